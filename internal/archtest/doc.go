// Package archtest holds the test that keeps Emporium's imports running one
// way: cmd → service → platform, and services never importing each other.
package archtest
