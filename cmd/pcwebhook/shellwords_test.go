package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSplitShellWords(t *testing.T) {
	for in, want := range map[string][]string{
		azTokenCommand: {"az", "account", "get-access-token", "--resource", "https://api.partnercenter.microsoft.com",
			"--query", "accessToken", "-o", "tsv"},
		"  a\t b \n c  ":                         {"a", "b", "c"},
		`'/path with spaces/tool' --x`:           {"/path with spaces/tool", "--x"},
		`get --query "a b" 'c "d"'`:              {"get", "--query", "a b", `c "d"`},
		`"a \"quoted\" \\ \$5" 'no \escape'`:     {`a "quoted" \ $5`, `no \escape`},
		`one\ word two\\three`:                   {"one word", `two\three`},
		`pre'fix'"mid"post`:                      {"prefixmidpost"},
		`''`:                                     {""},
		"line \\\ncontinued":                     {"line", "continued"},
		`price $5 'and $(literal)' "keep \$(x)"`: {"price", "$5", "and $(literal)", "keep $(x)"},
		``:                                       nil,
	} {
		got, err := splitShellWords(in)
		if assert.NoError(t, err, in) {
			assert.Equal(t, want, got, in)
		}
	}
}

func TestSplitShellWordsRefusesShellSyntax(t *testing.T) {
	for in, want := range map[string]string{
		`'unterminated`:            "unterminated single quote",
		`"unterminated`:            "unterminated double quote",
		`trailing\`:                "backslash at the end",
		`az token | tr -d x`:       `'|' is shell syntax, and the command runs without a shell`,
		`az token; echo`:           `';' is shell syntax`,
		`az token > out`:           `'>' is shell syntax`,
		`az token && x`:            `'&' is shell syntax`,
		"az `cmd`":                 "command substitution (`...`)",
		`az $(cmd)`:                "command substitution ($(...))",
		`az "$(cmd)"`:              "command substitution ($(...))",
		`az --subscription $SUB`:   "variable expansion ($S...)",
		`az --subscription "${S}"`: "variable expansion (${...)",
	} {
		_, err := splitShellWords(in)
		if assert.Error(t, err, in) {
			assert.Contains(t, err.Error(), want, in)
		}
	}
}
