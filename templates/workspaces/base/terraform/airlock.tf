# The airlock's storage accounts inside the workspace, as AzureTRE lays
# them out (the handler's internal/airlock Layout): import approved (the
# files an import brings in), export internal (researchers upload what
# they want out), export in progress (Defender for Storage scans it;
# reviewers read it), export rejected, export blocked. Each request has a
# container named after it in the account of its stage. Private only, on
# the workspace's endpoints subnet, no shared keys: the handler (the
# airlock processor's functions, identity id-api-<tre_id>) copies files
# with its identity and signs links with user delegation keys. The TRE's
# own stages are in the core (infra/modules/airlock).

locals {
  airlock_accounts = var.enable_airlock ? {
    import_approved    = "stalimappws${local.short_id}"
    export_internal    = "stalexintws${local.short_id}"
    export_in_progress = "stalexipws${local.short_id}"
    export_rejected    = "stalexrejws${local.short_id}"
    export_blocked     = "stalexblockedws${local.short_id}"
  } : {}
}

data "azurerm_user_assigned_identity" "api" {
  name                = "id-api-${var.tre_id}"
  resource_group_name = local.core_rg
}

resource "azurerm_storage_account" "airlock" {
  for_each                 = local.airlock_accounts
  name                     = each.value
  location                 = var.location
  resource_group_name      = azurerm_resource_group.ws.name
  account_tier             = "Standard"
  account_replication_type = "LRS"
  account_kind             = "StorageV2"
  tags                     = merge(local.tags, { airlock_stage = each.key })

  shared_access_key_enabled       = false
  default_to_oauth_authentication = true
  allow_nested_items_to_be_public = false
  https_traffic_only_enabled      = true
  min_tls_version                 = "TLS1_2"
  public_network_access_enabled   = false

  network_rules {
    default_action = "Deny"
    bypass         = ["AzureServices"]
  }
}

resource "azurerm_private_endpoint" "airlock" {
  for_each            = local.airlock_accounts
  name                = "pe-${each.value}"
  location            = var.location
  resource_group_name = azurerm_resource_group.ws.name
  subnet_id           = azurerm_subnet.endpoints.id
  tags                = local.tags

  private_service_connection {
    name                           = "psc-${each.value}"
    private_connection_resource_id = azurerm_storage_account.airlock[each.key].id
    subresource_names              = ["blob"]
    is_manual_connection           = false
  }

  private_dns_zone_group {
    name                 = "default"
    private_dns_zone_ids = [data.azurerm_private_dns_zone.core["privatelink.blob.core.windows.net"].id]
  }
}

# The handler's functions create, copy, list, delete and sign in every
# stage; in the export in-progress account they also read the blob index
# tag where Defender writes its verdict, which only Storage Blob Data Owner
# may.
resource "azurerm_role_assignment" "airlock" {
  for_each                         = local.airlock_accounts
  scope                            = azurerm_storage_account.airlock[each.key].id
  role_definition_name             = each.key == "export_in_progress" ? "Storage Blob Data Owner" : "Storage Blob Data Contributor"
  principal_id                     = data.azurerm_user_assigned_identity.api.principal_id
  principal_type                   = "ServicePrincipal"
  skip_service_principal_aad_check = true
}

# Defender for Storage scans every blob the airlock copies into the export
# in-progress account (AzureTRE's enable_airlock_malware_scanning).
resource "azurerm_security_center_storage_defender" "airlock" {
  for_each                                    = { for k, v in local.airlock_accounts : k => v if k == "export_in_progress" && var.enable_airlock_malware_scanning }
  storage_account_id                          = azurerm_storage_account.airlock[each.key].id
  override_subscription_settings_enabled      = true
  malware_scanning_on_upload_enabled          = true
  malware_scanning_on_upload_cap_gb_per_month = 5000
  sensitive_data_discovery_enabled            = false
}
