output "vnet_id" {
  description = "ARM id of the core VNet."
  value       = azurerm_virtual_network.core.id
}

output "vnet_name" {
  description = "Name of the core VNet (workspace bundles peer with it by name)."
  value       = azurerm_virtual_network.core.name
}

output "firewall_subnet_id" {
  description = "AzureFirewallSubnet."
  value       = azurerm_subnet.firewall.id
}

output "functions_subnet_id" {
  description = "Subnet of the Function App's VNet integration."
  value       = azurerm_subnet.functions.id
}

output "processor_subnet_id" {
  description = "Subnet of the Resource Processor VM."
  value       = azurerm_subnet.processor.id
}

output "endpoints_subnet_id" {
  description = "Subnet of the private endpoints."
  value       = azurerm_subnet.endpoints.id
}

output "shared_subnet_id" {
  description = "Subnet of the shared services."
  value       = azurerm_subnet.shared.id
}

output "subnet_prefixes" {
  description = "Address prefix of each core subnet, by role (functions, processor, shared, ...): the firewall's IP groups are made of them."
  value       = { for k, s in local.subnets : k => s.prefix }
}

output "private_dns_zone_ids" {
  description = "ARM id of each private DNS zone, by short name (cosmos, mongo, sb, vault, blob, table, file, registry)."
  value       = { for k, z in azurerm_private_dns_zone.zone : k => z.id }
}
