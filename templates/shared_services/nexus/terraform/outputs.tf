output "connection_uri" {
  description = "Address of the mirror, from the TRE's networks."
  value       = "http://${azurerm_network_interface.nexus.private_ip_address}:8081/"
}

output "admin_password_secret" {
  description = "Key Vault secret holding the admin's password."
  value       = azurerm_key_vault_secret.admin.name
}
