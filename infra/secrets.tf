# The Key Vault secrets the core must hold before the Resource Processor
# starts: Porter reads them through its azure.keyvault plugin
# (internal/porter: config.yaml and the aad_auth credential set, under the
# names AzureTRE's processor uses). internal/infracheck fails when a secret
# Porter reads is not created here. Terraform writes them through the
# vault's public endpoint, which answers the deployer's addresses only,
# with the deployer's Key Vault Secrets Officer role (roles.tf); their
# values are also in the core's Terraform state, which lives in a private,
# Entra ID-only account (docs/deploy.md).

# Porter's storage: the mongodb plugin's url in config.yaml.
resource "azurerm_key_vault_secret" "porter_db_connection_string" {
  name         = "porter-db-connection-string"
  value        = module.mongo.connection_string
  key_vault_id = module.keyvault.id
  content_type = "text/plain"
  tags         = local.tags
  depends_on   = [azurerm_role_assignment.deployer_vault]
}

# aad_auth: the tenant, and the Entra application bundles use to create and
# update workspace applications (docs/deploy.md, "The application admin").
resource "azurerm_key_vault_secret" "auth_tenant_id" {
  name         = "auth-tenant-id"
  value        = var.aad_tenant_id
  key_vault_id = module.keyvault.id
  content_type = "text/plain"
  tags         = local.tags
  depends_on   = [azurerm_role_assignment.deployer_vault]
}

resource "azurerm_key_vault_secret" "application_admin_client_id" {
  name         = "application-admin-client-id"
  value        = var.application_admin_client_id
  key_vault_id = module.keyvault.id
  content_type = "text/plain"
  tags         = local.tags
  depends_on   = [azurerm_role_assignment.deployer_vault]
}

resource "azurerm_key_vault_secret" "application_admin_client_secret" {
  name         = "application-admin-client-secret"
  value        = var.application_admin_client_secret
  key_vault_id = module.keyvault.id
  content_type = "text/plain"
  tags         = local.tags
  depends_on   = [azurerm_role_assignment.deployer_vault]
}
