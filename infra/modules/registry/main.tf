# The bundles' registry: porter publishes bundles here from the deployer's
# machine (scripts/register-bundle.sh); the processor pulls them through the
# private endpoint. Premium is the tier with private endpoints and IP rules.

variable "tre_id" {
  description = "Identifier of the TRE; names the registry (acr<tre_id>)."
  type        = string
}

variable "location" {
  description = "Azure region."
  type        = string
}

variable "resource_group_name" {
  description = "Core resource group."
  type        = string
}

variable "deployer_ip_ranges" {
  description = "Addresses allowed to reach the registry's public endpoint (porter publish)."
  type        = list(string)
}

variable "endpoints_subnet_id" {
  description = "Subnet of the private endpoint."
  type        = string
}

variable "dns_zone_id" {
  description = "privatelink.azurecr.io zone."
  type        = string
}

variable "tags" {
  description = "Tags of every resource."
  type        = map(string)
}

resource "azurerm_container_registry" "bundles" {
  name                = "acr${var.tre_id}"
  location            = var.location
  resource_group_name = var.resource_group_name
  sku                 = "Premium"
  # Entra ID only (az acr login / managed identity): no shared admin user.
  admin_enabled                 = false
  anonymous_pull_enabled        = false
  public_network_access_enabled = true
  network_rule_bypass_option    = "None"
  tags                          = var.tags

  network_rule_set {
    default_action = "Deny"

    dynamic "ip_rule" {
      for_each = var.deployer_ip_ranges
      content {
        action   = "Allow"
        ip_range = strcontains(ip_rule.value, "/") ? ip_rule.value : "${ip_rule.value}/32"
      }
    }
  }
}

module "endpoint" {
  source              = "../private_endpoint"
  name                = azurerm_container_registry.bundles.name
  location            = var.location
  resource_group_name = var.resource_group_name
  subnet_id           = var.endpoints_subnet_id
  resource_id         = azurerm_container_registry.bundles.id
  subresource         = "registry"
  dns_zone_id         = var.dns_zone_id
  tags                = var.tags
}

output "id" {
  description = "ARM id of the registry."
  value       = azurerm_container_registry.bundles.id
}

output "name" {
  description = "Name of the registry (az acr login --name)."
  value       = azurerm_container_registry.bundles.name
}

output "login_server" {
  description = "<name>.azurecr.io (REGISTRY_SERVER)."
  value       = azurerm_container_registry.bundles.login_server
}
