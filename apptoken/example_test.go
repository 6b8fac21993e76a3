package apptoken_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/apptoken"
)

// A program that manages its webhook registration with an app registration's client secret, read
// from AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET.
func Example() {
	cfg, err := apptoken.FromEnvironment(os.Getenv, apptoken.Global)
	if err != nil {
		log.Fatal(err) // names the variables that are unset
	}
	tokens, err := apptoken.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	client := pcwebhook.NewClient(tokens, pcwebhook.WithAPIRoot(cfg.Cloud.APIRoot))
	reg, err := client.Registration(context.Background())
	if err != nil {
		log.Fatal(err) // an *apptoken.Error when the token endpoint refused the credentials
	}
	fmt.Println("deliveries go to", reg.WebhookURL)
}
