# What the scripts need (scripts/deploy.sh reads `terraform output -json`).

output "tre_id" {
  description = "Identifier of the TRE."
  value       = var.tre_id
}

output "resource_group_name" {
  description = "Core resource group."
  value       = azurerm_resource_group.core.name
}

output "function_app_name" {
  description = "Function App to zip-deploy dist/function-app.zip to."
  value       = module.functionapp.name
}

output "api_base_url" {
  description = "Base URL of the API (health at /api/health) and of the web UI (at its root)."
  value       = module.functionapp.base_url
}

output "api_client_id" {
  description = "Application (client) id of the API: tokens for scripts come from `az account get-access-token --resource api://<api_client_id>`."
  value       = var.api_client_id
}

output "processor_vm_name" {
  description = "Resource Processor VM (az vm run-command invoke)."
  value       = module.processor.vm_name
}

output "state_storage_account_name" {
  description = "Account holding bundles' Terraform state and the processor's package."
  value       = module.storage.account_name
}

output "processor_package_container" {
  description = "Blob container of the processor's package (dist/processor-vm.tar.gz)."
  value       = "processor"
}

output "registry_name" {
  description = "Container registry of the bundles (az acr login --name)."
  value       = module.registry.name
}

output "registry_login_server" {
  description = "<name>.azurecr.io: porter publish --registry."
  value       = module.registry.login_server
}

output "key_vault_url" {
  description = "The TRE's Key Vault."
  value       = module.keyvault.uri
}

output "firewall_policy_id" {
  description = "Firewall Policy managed by the firewall service."
  value       = module.firewall.policy_id
}

output "firewall_public_ip" {
  description = "Public address of the TRE's egress."
  value       = module.firewall.public_ip
}

output "log_analytics_workspace_id" {
  description = "Workspace (customer) id for `az monitor log-analytics query --workspace`."
  value       = module.monitoring.workspace_customer_id
}

output "app_insights_name" {
  description = "Application Insights resource of the API."
  value       = module.monitoring.app_insights_name
}

output "shared_services_subnet_prefixes" {
  description = "Address prefixes of the core's shared-services subnet: the shared_services_address_prefixes property of the source and package mirrors (the source of their egress rules)."
  value       = [module.network.subnet_prefixes["shared"]]
}

output "core_address_space" {
  description = "The core's address space (CORE_ADDRESS_SPACE)."
  value       = var.core_address_space
}
