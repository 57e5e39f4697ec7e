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

variable "gitea_version" {
  description = "Version of the Gitea container image (docker.io/gitea/gitea)."
  type        = string

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.gitea_version))
    error_message = "gitea_version must be a release version such as 1.22.3."
  }
}

variable "mirror_repositories" {
  description = "Base64 of the JSON array of the https URLs of the repositories to mirror (the processor base64-encodes arrays)."
  type        = string

  validation {
    condition     = can(jsondecode(base64decode(var.mirror_repositories))) && alltrue([for u in jsondecode(base64decode(var.mirror_repositories)) : can(regex("^https://[^ ]+$", u))])
    error_message = "mirror_repositories must be a base64-encoded JSON array of https URLs."
  }
}

variable "vm_size" {
  description = "Size of the mirror's VM."
  type        = string
}
