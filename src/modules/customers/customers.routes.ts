// HTTP for /v1/customers.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { problemResponses } from '../../lib/problem.js'
import { callerOf } from '../../plugins/auth.js'
import { CreateCustomerSchema, CustomerPageSchema, CustomerParamsSchema, CustomerSchema, ListCustomersQuerySchema } from './customers.schemas.js'
import type { CustomersService } from './customers.service.js'

const tags = ['customers']
const security = [{ bearerAuth: [] }]

export const customersRoutes: FastifyPluginAsyncTypebox<{ customers: CustomersService }> = async (app, { customers }) => {
  app.post('/v1/customers', {
    onRequest: app.authorize('customers:write'),
    config: { idempotency: {} },
    schema: {
      tags,
      security,
      operationId: 'createCustomer',
      summary: 'Create a customer',
      body: CreateCustomerSchema,
      response: { 201: CustomerSchema, ...problemResponses(400, 401, 403, 409, 422, 429) }
    }
  }, async (request, reply) => reply.code(201).send(await customers.create(callerOf(request), request.body)))

  app.get('/v1/customers', {
    onRequest: app.authorize('customers:read'),
    schema: {
      tags,
      security,
      operationId: 'listCustomers',
      summary: 'List customers visible to this token, oldest first',
      querystring: ListCustomersQuerySchema,
      response: { 200: CustomerPageSchema, ...problemResponses(400, 401, 403, 429) }
    }
  }, async (request) => customers.list(callerOf(request), request.query))

  app.get('/v1/customers/:customerId', {
    onRequest: app.authorize('customers:read'),
    schema: {
      tags,
      security,
      operationId: 'getCustomer',
      summary: 'Get a customer',
      params: CustomerParamsSchema,
      response: { 200: CustomerSchema, ...problemResponses(400, 401, 403, 404, 429) }
    }
  }, async (request) => customers.get(callerOf(request), request.params.customerId))
}
