// Package check holds the offline checks of what cannot run on this machine:
// the Compose file (compose-go), the Kubernetes overlays (kustomize, decoded
// strictly into k8s.io/api types), the GitHub Actions workflows (actionlint)
// and the Dockerfile (BuildKit's parser), and the images built from it
// (buildah). It is a module of its own so that these heavy dependencies
// stay out of the services' module; `make test` runs it too.
package check
