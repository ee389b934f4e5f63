// Package egress decides where Ferry may send requests on an Application's behalf: the
// request, webhook and notification steps' HTTP calls and mail. A destination must be a host
// on the allow-list (the controller's, narrowed by the Application namespace's own), and the
// address it resolves to is checked when the connection is made, so a name that resolves to a
// loopback, link-local (cloud metadata), private, shared or multicast address is refused
// whatever its name, a DNS answer that changes between check and use does not get through,
// and every redirect's connection is checked again. Networks an operator lists explicitly
// (e.g. a cluster-internal webhook receiver) are the only way to reach such addresses.
package egress
