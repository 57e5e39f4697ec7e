# The workspace's storage (a file share for researchers) and Key Vault, on
# private endpoints only, with Entra ID only.

resource "azurerm_storage_account" "ws" {
  name                     = "stgws${local.short_id}${var.tre_id}"
  location                 = var.location
  resource_group_name      = azurerm_resource_group.ws.name
  account_tier             = "Standard"
  account_replication_type = "ZRS"
  account_kind             = "StorageV2"
  tags                     = local.tags

  shared_access_key_enabled       = false
  default_to_oauth_authentication = true
  allow_nested_items_to_be_public = false
  https_traffic_only_enabled      = true
  min_tls_version                 = "TLS1_2"
  public_network_access_enabled   = false

  network_rules {
    default_action = "Deny"
    bypass         = ["None"]
  }
}

resource "azurerm_storage_share" "shared" {
  name               = "vm-shared-storage"
  storage_account_id = azurerm_storage_account.ws.id
  quota              = var.shared_storage_quota
}

resource "azurerm_private_endpoint" "storage" {
  for_each            = { blob = "privatelink.blob.core.windows.net", file = "privatelink.file.core.windows.net" }
  name                = "pe-${azurerm_storage_account.ws.name}-${each.key}"
  location            = var.location
  resource_group_name = azurerm_resource_group.ws.name
  subnet_id           = azurerm_subnet.endpoints.id
  tags                = local.tags

  private_service_connection {
    name                           = "psc-${azurerm_storage_account.ws.name}-${each.key}"
    private_connection_resource_id = azurerm_storage_account.ws.id
    subresource_names              = [each.key]
    is_manual_connection           = false
  }

  private_dns_zone_group {
    name                 = "default"
    private_dns_zone_ids = [data.azurerm_private_dns_zone.core[each.value].id]
  }
}

resource "azurerm_key_vault" "ws" {
  name                          = "kv-${var.tre_id}-ws-${local.short_id}"
  location                      = var.location
  resource_group_name           = azurerm_resource_group.ws.name
  tenant_id                     = data.azurerm_client_config.current.tenant_id
  sku_name                      = "standard"
  rbac_authorization_enabled    = true
  purge_protection_enabled      = true
  soft_delete_retention_days    = 90
  public_network_access_enabled = false
  tags                          = local.tags

  network_acls {
    default_action = "Deny"
    bypass         = "None"
  }
}

data "azurerm_client_config" "current" {}

resource "azurerm_private_endpoint" "vault" {
  name                = "pe-${azurerm_key_vault.ws.name}"
  location            = var.location
  resource_group_name = azurerm_resource_group.ws.name
  subnet_id           = azurerm_subnet.endpoints.id
  tags                = local.tags

  private_service_connection {
    name                           = "psc-${azurerm_key_vault.ws.name}"
    private_connection_resource_id = azurerm_key_vault.ws.id
    subresource_names              = ["vault"]
    is_manual_connection           = false
  }

  private_dns_zone_group {
    name                 = "default"
    private_dns_zone_ids = [data.azurerm_private_dns_zone.core["privatelink.vaultcore.azure.net"].id]
  }
}
