variable "tre_id" {
  description = "Identifier of the TRE; names the resources."
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

variable "subnet_id" {
  description = "The AzureFirewallSubnet of the core VNet."
  type        = string
}

variable "zones" {
  description = "Availability zones of the firewall and its public address; empty in a region without zones."
  type        = list(string)
}

variable "sku_tier" {
  description = "Standard or Premium."
  type        = string
}

variable "source_prefixes" {
  description = "Address prefixes of the core's workload subnets by role: web-app (the API), resource-processor, shared. Each becomes an IP group ipg-<role>, AzureTRE's names, in the core resource group, which rules (and shared-service templates, by name) refer to."
  type        = map(string)
}

variable "processor_egress_fqdns" {
  description = "Host names the processor may reach over HTTP(S)."
  type        = list(string)
}

variable "tags" {
  description = "Tags of every resource."
  type        = map(string)
}
