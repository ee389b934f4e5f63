// Package config embeds the manifests that install Ferry: the CRDs generated from api/v1beta1
// and the controller's RBAC and Deployment.
package config

import "embed"

// FS holds crd/*.yaml, controller/*.yaml and webhook/*.yaml.
//
//go:embed crd/*.yaml controller/*.yaml webhook/*.yaml
var FS embed.FS
