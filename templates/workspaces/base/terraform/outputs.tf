output "storage_account_name" {
  description = "The workspace's storage account."
  value       = azurerm_storage_account.ws.name
}

output "key_vault_uri" {
  description = "The workspace's Key Vault."
  value       = azurerm_key_vault.ws.vault_uri
}

output "vnet_id" {
  description = "The workspace's VNet."
  value       = azurerm_virtual_network.ws.id
}
