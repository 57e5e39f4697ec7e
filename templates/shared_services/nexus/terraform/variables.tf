variable "tre_id" {
  description = "The TRE's identifier: its core is rg-<tre_id>, vnet-<tre_id>, kv-<tre_id>."
  type        = string
}

variable "id" {
  description = "The shared service's resource id."
  type        = string
}

variable "location" {
  description = "Azure region."
  type        = string
}

variable "nexus_version" {
  description = "Version of the Nexus container image (docker.io/sonatype/nexus3)."
  type        = string

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.nexus_version))
    error_message = "nexus_version must be a release version such as 3.72.0."
  }
}

variable "vm_size" {
  description = "Size of the mirror's VM."
  type        = string
}
