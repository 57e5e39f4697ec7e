variable "tre_id" {
  description = "The TRE's identifier: its core is rg-<tre_id>, vnet-<tre_id>, fw-<tre_id>."
  type        = string
}

variable "id" {
  description = "The workspace's resource id; its last 4 characters name its resources."
  type        = string

  validation {
    condition     = length(var.id) >= 4
    error_message = "id must be the workspace's resource id."
  }
}

variable "location" {
  description = "Azure region of the workspace."
  type        = string
}

variable "display_name" {
  description = "Display name (a tag)."
  type        = string
  default     = ""
}

variable "description" {
  description = "Description (a tag)."
  type        = string
  default     = ""
}

variable "address_spaces" {
  description = "Base64 of the JSON array of the workspace's address spaces (the API allocates them; the processor base64-encodes arrays)."
  type        = string

  validation {
    condition     = can(jsondecode(base64decode(var.address_spaces))) && length(jsondecode(base64decode(var.address_spaces))) > 0
    error_message = "address_spaces must be a base64-encoded, non-empty JSON array of CIDRs."
  }
}

variable "shared_storage_quota" {
  description = "Quota of the file share, in GB."
  type        = number
}

variable "enable_airlock" {
  description = "The workspace has an airlock: its five storage accounts are made."
  type        = bool
  default     = true
}

variable "enable_airlock_malware_scanning" {
  description = "Defender for Storage scans the export in-progress account (AzureTRE's RP_BUNDLE_enable_airlock_malware_scanning)."
  type        = bool
  default     = false
}
