# One private endpoint with its DNS record: the pattern every private
# service of the core uses (Cosmos DB, Service Bus, Key Vault, storage, ACR).

variable "name" {
  description = "Name of the endpoint's target, used as pe-<name>."
  type        = string
}

variable "location" {
  description = "Azure region."
  type        = string
}

variable "resource_group_name" {
  description = "Resource group of the endpoint."
  type        = string
}

variable "subnet_id" {
  description = "Subnet the endpoint's network interface is placed in."
  type        = string
}

variable "resource_id" {
  description = "ARM id of the resource the endpoint connects to."
  type        = string
}

variable "subresource" {
  description = "Sub-resource (group id) of the connection: Sql, namespace, vault, blob, registry, ..."
  type        = string
}

variable "dns_zone_id" {
  description = "Private DNS zone that receives the endpoint's A records."
  type        = string
}

variable "tags" {
  description = "Tags of the endpoint."
  type        = map(string)
}

resource "azurerm_private_endpoint" "this" {
  name                = "pe-${var.name}"
  location            = var.location
  resource_group_name = var.resource_group_name
  subnet_id           = var.subnet_id
  tags                = var.tags

  private_service_connection {
    name                           = "psc-${var.name}"
    private_connection_resource_id = var.resource_id
    subresource_names              = [var.subresource]
    is_manual_connection           = false
  }

  private_dns_zone_group {
    name                 = "default"
    private_dns_zone_ids = [var.dns_zone_id]
  }
}

output "id" {
  description = "ARM id of the private endpoint."
  value       = azurerm_private_endpoint.this.id
}

output "private_ip_address" {
  description = "Private IP address of the endpoint."
  value       = azurerm_private_endpoint.this.private_service_connection[0].private_ip_address
}
