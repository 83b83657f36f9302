package network

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// keyPEMType is the PEM block type of a worker identity key file. The block
// holds the 32-byte ed25519 seed.
const keyPEMType = "COCOON ED25519 SEED"

// LoadOrCreateKey loads the worker's ed25519 identity key from path, or
// creates it on first run: the directory with mode 0700 and the file with
// mode 0600. It refuses a key file that group or others can read or write
// (the key is what earns money: chmod 600 fixes it) and rejects a file that
// is not a key written by this function.
func LoadOrCreateKey(path string) (ed25519.PrivateKey, error) {
	if path == "" {
		return nil, errors.New("network: key path is empty")
	}
	info, err := os.Stat(path)
	switch {
	case err == nil:
		return loadKey(path, info)
	case errors.Is(err, fs.ErrNotExist):
		return createKey(path)
	default:
		return nil, fmt.Errorf("network: key file: %w", err)
	}
}

func loadKey(path string, info fs.FileInfo) (ed25519.PrivateKey, error) {
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("network: key file %s is not a regular file", path)
	}
	// Windows has no Unix permission bits; its ACLs are the user profile's.
	if runtime.GOOS != "windows" && info.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("network: key file %s has mode %04o and is accessible by other users; "+
			"run `chmod 600 %s` and start again", path, info.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("network: read key file: %w", err)
	}
	return parseKey(path, b)
}

func parseKey(path string, b []byte) (ed25519.PrivateKey, error) {
	block, rest := pem.Decode(b)
	if block == nil || block.Type != keyPEMType || len(block.Bytes) != ed25519.SeedSize {
		return nil, fmt.Errorf("network: key file %s is corrupt (not a %s PEM block of %d bytes); "+
			"restore it from a backup, or move it away to create a new identity (earnings are tied to the old one)",
			path, keyPEMType, ed25519.SeedSize)
	}
	if len(trimSpace(rest)) != 0 {
		return nil, fmt.Errorf("network: key file %s is corrupt (data after the key)", path)
	}
	return ed25519.NewKeyFromSeed(block.Bytes), nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\n' || b[0] == '\r' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

func createKey(path string) (ed25519.PrivateKey, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("network: create key directory: %w", err)
	}
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return nil, fmt.Errorf("network: generate key: %w", err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: keyPEMType, Bytes: seed})
	// Write a temporary file and link it into place, so a crash never leaves
	// a half-written key and two processes starting at once agree on one key.
	tmp, err := os.CreateTemp(dir, ".key-*")
	if err != nil {
		return nil, fmt.Errorf("network: create key file: %w", err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)
	if err := tmp.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		tmp.Close()
		return nil, fmt.Errorf("network: create key file: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("network: write key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("network: write key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("network: write key file: %w", err)
	}
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			// Someone else created it first: use theirs.
			info, serr := os.Stat(path)
			if serr != nil {
				return nil, fmt.Errorf("network: key file: %w", serr)
			}
			return loadKey(path, info)
		}
		// Filesystems without hard links: fall back to an exclusive create.
		f, ferr := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if ferr != nil {
			return nil, fmt.Errorf("network: create key file: %w", ferr)
		}
		if _, werr := f.Write(data); werr != nil {
			f.Close()
			os.Remove(path)
			return nil, fmt.Errorf("network: write key file: %w", werr)
		}
		if cerr := f.Close(); cerr != nil {
			os.Remove(path)
			return nil, fmt.Errorf("network: write key file: %w", cerr)
		}
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// WorkerID is the worker's id on the network: the lowercase hex of its
// ed25519 public key (the proxy derives it the same way).
func WorkerID(pub ed25519.PublicKey) string {
	return hex.EncodeToString(pub)
}
