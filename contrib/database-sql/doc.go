// Package redresssql is TODO.
package redresssql
