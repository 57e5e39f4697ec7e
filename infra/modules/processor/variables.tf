variable "tre_id" {
  description = "Identifier of the TRE; names the resources."
  type        = string
}

variable "location" {
  description = "Azure region."
  type        = string
}

variable "resource_group_name" {
  description = "Core resource group (MGMT_RESOURCE_GROUP_NAME)."
  type        = string
}

variable "subnet_id" {
  description = "Subnet of the VM (egress through the firewall)."
  type        = string
}

variable "vm_size" {
  description = "Size of the VM."
  type        = string
}

variable "admin_ssh_public_key" {
  description = "OpenSSH public key of azureuser."
  type        = string
}

variable "identity_id" {
  description = "ARM id of the processor's user-assigned identity."
  type        = string
}

variable "identity_client_id" {
  description = "Client id of the processor's user-assigned identity (VMSS_MSI_ID, ARM_CLIENT_ID)."
  type        = string
}

variable "syslog_rule_id" {
  description = "Data collection rule that ships the VM's syslog (journald) to Log Analytics."
  type        = string
}

variable "settings" {
  description = "Values of the processor's settings (names in main.tf)."
  type = object({
    log_level             = string
    number_processes      = number
    agent_heartbeat       = string
    service_bus_namespace = string
    registry_server       = string
    subscription_id       = string
    tenant_id             = string
    key_vault_url         = string
    state_storage_account = string
    state_container       = string
    aad_authority_url     = string
    microsoft_graph_fqdn  = string
  })
}

variable "tags" {
  description = "Tags of every resource."
  type        = map(string)
}
