// Package deploy holds the deployment files of the platform: the Kubernetes
// manifests under k8s/ (kustomize roots: k8s for the microservices on
// DynamoDB, k8s/with-ingress adding an Ingress, k8s/all-in-one for one pod on
// the embedded store) beside the Dockerfile at the module root. It has no Go
// API; its tests decode every manifest strictly with the Kubernetes API
// types and check them against the Dockerfile and the flags of the built
// binary. docs/deploy.md explains the shapes.
package deploy
