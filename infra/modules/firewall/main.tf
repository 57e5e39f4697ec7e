# Azure Firewall with a Firewall Policy. The policy holds:
#   - rcg-core (priority 100, this file): the egress the core itself needs;
#   - the groups of the firewall service (TRE_FIREWALL_GROUP_PREFIX, by default
#     rcg-tre-*, priorities firewall_group_priorities: 300/310 for admins'
#     manual rules and 400/410 for the resources' rules), written by the
#     handler at run time, never by Terraform. rcg-core does not start with
#     that prefix, so the service leaves it alone, and its priority collides
#     with none of the service's. 500 to 599 stay free for AzureTRE's own
#     groups (its rcg-core 500, airlock notifier 501, firewall shared
#     service 510 and 520).
# Terraform does not manage the service's groups, and azurerm does not delete
# unmanaged child groups, so an apply never undoes the service's work.

resource "azurerm_public_ip" "firewall" {
  name                = "pip-fw-${var.tre_id}"
  location            = var.location
  resource_group_name = var.resource_group_name
  allocation_method   = "Static"
  sku                 = "Standard"
  # The firewall's zones: its address must be in each of them.
  zones = var.zones
  tags  = var.tags
}

resource "azurerm_firewall_policy" "core" {
  name                     = "fwpol-${var.tre_id}"
  location                 = var.location
  resource_group_name      = var.resource_group_name
  sku                      = var.sku_tier
  threat_intelligence_mode = "Deny"
  tags                     = var.tags

  # Workspace VNets use the firewall as their DNS server (their bundles set
  # it), so that FQDN network rules resolve the same names the workloads do
  # and the core's private DNS zones answer for workspaces too.
  dns {
    proxy_enabled = true
  }
}

resource "azurerm_firewall" "core" {
  name                = "fw-${var.tre_id}"
  location            = var.location
  resource_group_name = var.resource_group_name
  sku_name            = "AZFW_VNet"
  sku_tier            = var.sku_tier
  firewall_policy_id  = azurerm_firewall_policy.core.id
  zones               = var.zones
  tags                = var.tags

  ip_configuration {
    name                 = "default"
    subnet_id            = var.subnet_id
    public_ip_address_id = azurerm_public_ip.firewall.id
  }
}

# Sources of rules by role. Shared-service templates refer to these by name
# (AzureTRE's source_ip_groups_in_core), so a template needs no address.
resource "azurerm_ip_group" "core" {
  for_each            = var.source_prefixes
  name                = "ipg-${each.key}"
  location            = var.location
  resource_group_name = var.resource_group_name
  cidrs               = [each.value]
  tags                = var.tags
}
