output "private_ip" {
  description = "Private address of the firewall: the next hop of every TRE default route."
  value       = azurerm_firewall.core.ip_configuration[0].private_ip_address
}

output "public_ip" {
  description = "Public address the TRE's egress comes from (give it to services that allow-list callers)."
  value       = azurerm_public_ip.firewall.ip_address
}

output "name" {
  description = "Name of the firewall (workspace bundles look it up by name)."
  value       = azurerm_firewall.core.name
}

output "policy_id" {
  description = "ARM id of the Firewall Policy whose rule collection groups the firewall service manages (TRE_FIREWALL_POLICY_ID)."
  value       = azurerm_firewall_policy.core.id
}

output "ip_group_ids" {
  description = "ARM id of each core IP group, by role."
  value       = { for k, g in azurerm_ip_group.core : k => g.id }
}

output "id" {
  description = "ARM id of the firewall."
  value       = azurerm_firewall.core.id
}
