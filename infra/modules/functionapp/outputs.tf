output "name" {
  description = "Name of the Function App (az functionapp deployment source config-zip --name)."
  value       = azurerm_linux_function_app.api.name
}

output "id" {
  description = "ARM id of the Function App."
  value       = azurerm_linux_function_app.api.id
}

output "base_url" {
  description = "https://<default host name>: the API is under /api."
  value       = "https://${azurerm_linux_function_app.api.default_hostname}"
}
