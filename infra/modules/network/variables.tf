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

variable "core_address_space" {
  description = "Address space of the core VNet (a /22 or larger); the subnets are carved from its first /22."
  type        = string
}

variable "tags" {
  description = "Tags of every resource."
  type        = map(string)
}

variable "firewall_private_ip" {
  description = "Private address of the firewall: the next hop of the core's default route."
  type        = string
}
