module github.com/partnercenter-go/pcwebhook

go 1.22

require (
	github.com/stretchr/testify v1.12.1
	golang.org/x/term v0.29.0
)

require (
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/sys v0.30.0 // indirect
)
