locals {
  short_id       = substr(var.id, length(var.id) - 4, 4)
  address_spaces = jsondecode(base64decode(var.address_spaces))
  # Subnets come from the first address space: services and private
  # endpoints, half each.
  services_prefix  = cidrsubnet(local.address_spaces[0], 1, 0)
  endpoints_prefix = cidrsubnet(local.address_spaces[0], 1, 1)
  core_rg          = "rg-${var.tre_id}"

  tags = {
    tre_id           = var.tre_id
    tre_workspace_id = var.id
    display_name     = var.display_name
    description      = var.description
  }
}

# The core, found by the TRE's naming convention (infra/).
data "azurerm_virtual_network" "core" {
  name                = "vnet-${var.tre_id}"
  resource_group_name = local.core_rg
}

data "azurerm_firewall" "core" {
  name                = "fw-${var.tre_id}"
  resource_group_name = local.core_rg
}

data "azurerm_private_dns_zone" "core" {
  for_each            = toset(["privatelink.blob.core.windows.net", "privatelink.file.core.windows.net", "privatelink.vaultcore.azure.net"])
  name                = each.key
  resource_group_name = local.core_rg
}

resource "azurerm_resource_group" "ws" {
  name     = "rg-${var.tre_id}-ws-${local.short_id}"
  location = var.location
  tags     = local.tags
}
