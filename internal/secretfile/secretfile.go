// Package secretfile is the local adapter of the secrets port: sensitive
// values encrypted with AES-256-GCM in one file of the data directory,
// under a random key kept beside it (secrets.key, mode 0600). It is for
// running on one machine; deployments use Key Vault.
package secretfile

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/tre-go/tre/internal/tre"
)

// File names in the data directory.
const (
	KeyFile     = "secrets.key"
	SecretsFile = "secrets.json"
)

// Store keeps secrets in dir. Safe for concurrent use within a process.
type Store struct {
	dir  string
	aead cipher.AEAD
	mu   sync.Mutex
}

var _ tre.Secrets = (*Store)(nil)

// Open returns the store of dir, creating its key on first use.
func Open(dir string) (*Store, error) {
	key, err := loadKey(dir)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secretfile: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secretfile: %w", err)
	}
	return &Store{dir: dir, aead: aead}, nil
}

func loadKey(dir string) ([]byte, error) {
	path := filepath.Join(dir, KeyFile)
	key, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("secretfile: create data directory: %w", err)
		}
		fresh := make([]byte, 32)
		if _, err := io.ReadFull(rand.Reader, fresh); err != nil {
			return nil, fmt.Errorf("secretfile: generate key: %w", err)
		}
		// Write then link: two processes starting together agree on one key.
		if err := writeAtomic(dir, path, fresh, true); err != nil && !errors.Is(err, os.ErrExist) {
			return nil, err
		}
		key, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("secretfile: read key: %w", err)
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("secretfile: %s must hold 32 bytes, not %d", path, len(key))
	}
	return key, nil
}

// writeAtomic writes data to a temporary file, syncs it and moves it to
// path: by link (failing if path exists) when exclusive, else by rename.
func writeAtomic(dir, path string, data []byte, exclusive bool) error {
	tmp, err := os.CreateTemp(dir, ".secret-*")
	if err != nil {
		return fmt.Errorf("secretfile: write: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("secretfile: write: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("secretfile: write: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("secretfile: write: %w", err)
	}
	if exclusive {
		return os.Link(tmp.Name(), path)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("secretfile: write: %w", err)
	}
	return nil
}

func (s *Store) load() (map[string]string, error) {
	data, err := os.ReadFile(filepath.Join(s.dir, SecretsFile))
	if errors.Is(err, os.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("secretfile: read: %w", err)
	}
	m := map[string]string{}
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("secretfile: %s is corrupt: %w", SecretsFile, err)
	}
	return m, nil
}

func (s *Store) save(m map[string]string) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("secretfile: write: %w", err)
	}
	return writeAtomic(s.dir, filepath.Join(s.dir, SecretsFile), data, false)
}

// Put implements tre.Secrets.
func (s *Store) Put(_ context.Context, name, value string) error {
	if err := tre.CheckSecretName(name); err != nil {
		return err
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		return fmt.Errorf("secretfile: nonce: %w", err)
	}
	// The name is authenticated data: a value moved under another name
	// does not decrypt.
	sealed := s.aead.Seal(nonce, nonce, []byte(value), []byte(name))
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.load()
	if err != nil {
		return err
	}
	m[name] = base64.StdEncoding.EncodeToString(sealed)
	return s.save(m)
}

// Get implements tre.Secrets.
func (s *Store) Get(_ context.Context, name string) (string, error) {
	s.mu.Lock()
	m, err := s.load()
	s.mu.Unlock()
	if err != nil {
		return "", err
	}
	enc, ok := m[name]
	if !ok {
		return "", tre.Errorf(tre.CodeNotFound, "secret %s not found", name)
	}
	sealed, err := base64.StdEncoding.DecodeString(enc)
	if err != nil || len(sealed) < s.aead.NonceSize() {
		return "", fmt.Errorf("secretfile: secret %s is corrupt", name)
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte(name))
	if err != nil {
		return "", fmt.Errorf("secretfile: secret %s does not decrypt with %s: %w", name, KeyFile, err)
	}
	return string(plain), nil
}

// Delete implements tre.Secrets.
func (s *Store) Delete(_ context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.load()
	if err != nil {
		return err
	}
	if _, ok := m[name]; !ok {
		return nil
	}
	delete(m, name)
	return s.save(m)
}
