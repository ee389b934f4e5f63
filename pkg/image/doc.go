// Package image builds the OCI image of ferry-controller without Docker: one layer on an empty
// base holding the static binary, a passwd entry for the non-root user it runs as, and an empty
// /tmp; an image config naming its entrypoint, user and OCI labels. `make image` writes it as a
// tarball that `docker load`, `podman load`, `crane push` or `kind load image-archive` accept.
package image
