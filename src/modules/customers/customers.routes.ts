// HTTP for /v1/customers.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { problemResponses } from '../../lib/problem.js'
import { callerOf } from '../../plugins/auth.js'
import { CreateCustomerSchema, CustomerPageSchema, CustomerParamsSchema, CustomerSchema, ListCustomersQuerySchema, OffboardCustomerSchema, OffboardedCustomerSchema, ResumeCustomerSchema, SuspendCustomerSchema } from './customers.schemas.js'
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
      summary: 'List customers visible to this token, oldest first (or newest, order=desc), with their total; filter by status or search by name or externalRef',
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

  app.post('/v1/customers/:customerId/suspend', {
    onRequest: app.authorize('customers:write'),
    schema: {
      tags,
      security,
      operationId: 'suspendCustomer',
      summary: 'Suspend a customer: no credentials, no probes, no registrations until resumed',
      description: 'Reversible. Issuances in flight either committed before the suspension or are refused. The customer records who imposed it (`suspendedBy`): the vendor (an unbound client) or the tenant (a client bound to the customer, which may suspend it). The vendor suspending a customer its tenant suspended takes the suspension over. Already suspended: 409 `customer_already_suspended`; offboarded: 409 `customer_offboarded`.',
      params: CustomerParamsSchema,
      body: SuspendCustomerSchema,
      response: { 200: CustomerSchema, ...problemResponses(400, 401, 403, 404, 409, 429) }
    }
  }, async (request) => customers.suspend(callerOf(request), request.params.customerId, request.body.reason))

  app.post('/v1/customers/:customerId/resume', {
    onRequest: app.authorize('customers:write'),
    schema: {
      tags,
      security,
      operationId: 'resumeCustomer',
      summary: 'Resume a suspended customer',
      description: 'A client bound to the customer lifts only a suspension its tenant imposed: the vendor\'s is 403 `suspension_imposed_by_vendor` (audited as `auth.forbidden`; nothing changes). Not suspended: 409 `customer_not_suspended`; offboarded: 409 `customer_offboarded`.',
      params: CustomerParamsSchema,
      body: ResumeCustomerSchema,
      response: { 200: CustomerSchema, ...problemResponses(400, 401, 403, 404, 409, 429) }
    }
  }, async (request) => customers.resume(callerOf(request), request.params.customerId))

  app.post('/v1/customers/:customerId/offboard', {
    onRequest: app.authorize('customers:offboard'),
    schema: {
      tags,
      security,
      operationId: 'offboardCustomer',
      summary: 'Offboard a customer for good: revoke every connection, retire every external ID, revoke every API client bound to it',
      description: 'Irreversible, in one transaction; every record is kept. The `impact` says until when sessions already issued stay valid and gives the deny policy that ends them. Needs the `customers:offboard` scope (or `admin`), which a client bound to a customer cannot hold; `customers:write` is not enough. Already offboarded: 409 `customer_offboarded`.',
      params: CustomerParamsSchema,
      body: OffboardCustomerSchema,
      response: { 200: OffboardedCustomerSchema, ...problemResponses(400, 401, 403, 404, 409, 429) }
    }
  }, async (request) => customers.offboard(callerOf(request), request.params.customerId, request.body.reason))
}
