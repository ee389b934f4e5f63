// Command etcd runs etcd's server from the pinned module; `go install` of etcd itself is refused
// because its go.mod has replace directives.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
