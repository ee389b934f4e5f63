package install

import "k8s.io/apimachinery/pkg/api/meta"

func isNoMatch(err error) bool { return meta.IsNoMatchError(err) }
