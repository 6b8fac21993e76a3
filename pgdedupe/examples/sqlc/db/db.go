// Package db is what sqlc generates from schema.sql and query.sql with sql_package "pgx/v5",
// written by hand here so that the example needs no sqlc: a Queries type over a DBTX, and
// WithTx, which is how a callback runs the queries in the delivery's transaction.
package db

import (
	"context"
	_ "embed"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Schema is schema.sql, for the example to create its table.
//
//go:embed schema.sql
var Schema string

// DBTX is what the queries run on: a pool, a connection or a transaction.
type DBTX interface {
	Exec(context.Context, string, ...interface{}) (pgconn.CommandTag, error)
	Query(context.Context, string, ...interface{}) (pgx.Rows, error)
	QueryRow(context.Context, string, ...interface{}) pgx.Row
}

// New returns the queries on db.
func New(db DBTX) *Queries {
	return &Queries{db: db}
}

// Queries runs the queries of query.sql.
type Queries struct {
	db DBTX
}

// WithTx returns the queries on tx.
func (q *Queries) WithTx(tx pgx.Tx) *Queries {
	return &Queries{
		db: tx,
	}
}
