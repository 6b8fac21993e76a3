package tokens_test

import (
	"context"
	"fmt"
	"os"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"golang.org/x/oauth2"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/examples/tokens"
)

// App-only with a client secret: the robust choice for registering webhooks and reading
// resources. Not run here: it needs a real tenant.
func ExampleAppOnlySecret() {
	cloud := tokens.Global // or tokens.China for Partner Center operated by 21Vianet
	ts := tokens.AppOnlySecret(cloud, os.Getenv("AZURE_TENANT_ID"), os.Getenv("AZURE_CLIENT_ID"),
		os.Getenv("AZURE_CLIENT_SECRET"), nil)
	client := pcwebhook.NewClient(ts, pcwebhook.WithAPIRoot(cloud.APIRoot))
	reg, err := client.Registration(context.Background())
	fmt.Println(reg, err)
}

// App-only with a certificate (a PEM file holding the certificate and its private key).
func ExampleAppOnlyCertificate() {
	data, err := os.ReadFile("app-cert.pem")
	if err != nil {
		panic(err)
	}
	certs, key, err := azidentity.ParseCertificates(data, nil)
	if err != nil {
		panic(err)
	}
	ts, err := tokens.AppOnlyCertificate(tokens.Global, os.Getenv("AZURE_TENANT_ID"), os.Getenv("AZURE_CLIENT_ID"),
		certs, key, nil, nil)
	if err != nil {
		panic(err)
	}
	client := pcwebhook.NewClient(ts)
	_ = client
}

// App+User through the Secure Application Model: a refresh token from a one-time consent with
// MFA, rotated as the authority issues new ones.
func ExampleAppUser() {
	ts, err := tokens.AppUser(tokens.Global, tokens.AppUserConfig{
		TenantID:     os.Getenv("PARTNER_TENANT_ID"),
		ClientID:     os.Getenv("SAM_APP_ID"),
		ClientSecret: os.Getenv("SAM_APP_SECRET"),
		RefreshToken: os.Getenv("SAM_REFRESH_TOKEN"),
		OnRefreshTokenRotated: func(rt string) {
			// store rt in your key vault in place of the old one
		},
	}, nil)
	if err != nil {
		panic(err)
	}
	client := pcwebhook.NewClient(ts)
	_ = client
}

// Any Azure Identity credential works, for example a managed identity or
// DefaultAzureCredential.
func ExampleFromAzureCredential() {
	cred, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		panic(err)
	}
	client := pcwebhook.NewClient(tokens.FromAzureCredential(cred, tokens.Global.AppOnlyScope()))
	_ = client
}

// The clouds: where tokens come from and for which audience.
func ExampleCloud() {
	for _, c := range []tokens.Cloud{tokens.Global, tokens.China} {
		fmt.Println(c.Name)
		fmt.Println(" ", c.TokenURL("contoso.onmicrosoft.com"))
		fmt.Println(" ", c.AppOnlyScope())
		fmt.Println(" ", c.DelegatedScope())
		fmt.Println(" ", c.APIRoot)
	}
	// Output:
	// global
	//   https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token
	//   https://api.partnercenter.microsoft.com/.default
	//   https://api.partnercenter.microsoft.com/user_impersonation
	//   https://api.partnercenter.microsoft.com
	// china (21Vianet)
	//   https://login.chinacloudapi.cn/contoso.onmicrosoft.com/oauth2/v2.0/token
	//   https://partner.partnercenterapi.microsoftonline.cn/.default
	//   https://partner.partnercenterapi.microsoftonline.cn/user_impersonation
	//   https://partner.partnercenterapi.microsoftonline.cn
}

// Any golang.org/x/oauth2 TokenSource can feed a pcwebhook.Client.
func ExampleFromOAuth2() {
	ts := tokens.FromOAuth2(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "from-oauth2"}))
	tok, err := ts.Token(context.Background())
	fmt.Println(tok, err)
	// Output: from-oauth2 <nil>
}
