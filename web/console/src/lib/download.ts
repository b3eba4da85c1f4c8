// Saves data the console fetched with the token (never a URL carrying it) as a file.
export function saveAs (name: string, data: Blob): void {
  const url = URL.createObjectURL(data)
  const link = document.createElement('a')
  link.href = url
  link.download = name
  link.click()
  setTimeout(() => { URL.revokeObjectURL(url) }, 1000)
}
