package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

func (a *app) benchCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "bench",
		Short:  "Benchmark ingestion against DuckDB read_json and jq",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return errors.New("bench: not implemented yet")
		},
	}
}
