package env_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hive-workshop/microservices-go/hive/env"
	"github.com/hive-workshop/microservices-go/hive/events"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
	probe "github.com/hive-workshop/microservices-go/internal/broker"
	"github.com/hive-workshop/microservices-go/internal/workshop/localcluster"
)

// tlsBase is the first port of the private RabbitMQ node of
// TestEventsOverTLS: apart from the other tests' clusters (26800-28800)
// and `make cluster`'s (25800).
const tlsBase = 29800

// TestEventsOverTLS starts a private RabbitMQ node with a TLS listener
// whose certificate a CA made here signed, and shows a service that
// trusts that CA (HIVE_AMQP_CA) publish and get an event over amqps://,
// and one that trusts another CA, or the system's, refused with words that
// name HIVE_AMQP_CA.
func TestEventsOverTLS(t *testing.T) {
	if os.Getenv(localcluster.TestsEnv) != "1" {
		t.Skipf("starts a RabbitMQ node of its own, which takes half a minute: %s=1 runs it (make test-cluster)", localcluster.TestsEnv)
	}
	if err := localcluster.Installed(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := localcluster.TLS{
		CACert: filepath.Join(dir, "ca.pem"),
		Cert:   filepath.Join(dir, "server.pem"),
		Key:    filepath.Join(dir, "server-key.pem"),
	}
	ca, caKey := newCA(t, "hive test CA", files.CACert)
	newServerCert(t, ca, caKey, files.Cert, files.Key)
	otherCA := filepath.Join(dir, "other-ca.pem")
	newCA(t, "another CA", otherCA)

	c := localcluster.New(localcluster.Config{Dir: filepath.Join(dir, "cluster"), Base: tlsBase, TLS: &files})
	t.Cleanup(func() { assert.NoError(t, c.Stop()) })
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	require.NoError(t, c.StartRabbitMQ(ctx, 1))

	// make doctor's probe, as hive: trusting the CA, and not.
	caOnly, err := env.Settings{AMQPCA: files.CACert}.AMQPTLS()
	require.NoError(t, err)
	assert.Equal(t, probe.Ready, probe.RabbitMQTLS(ctx, c.AMQPSURLs()[0], caOnly).State, "the probe, trusting the CA")
	assert.Equal(t, probe.Untrusted, probe.RabbitMQTLS(ctx, c.AMQPSURLs()[0], nil).State, "the probe, trusting the system's CAs")

	t.Setenv(env.AMQPURL, c.AMQPSURLs()[0])
	t.Setenv(env.Namespace, hivetest.Namespace(t))
	logger := slog.New(slog.DiscardHandler)

	t.Run("the CA that signed the broker's certificate", func(t *testing.T) {
		t.Setenv(env.AMQPCA, files.CACert)
		s, err := env.Read()
		require.NoError(t, err)
		bus, err := s.ConnectBus(ctx, logger)
		require.NoError(t, err, "connecting over amqps:// with HIVE_AMQP_CA set to the broker's CA")
		t.Cleanup(func() { bus.Close() })

		got := make(chan events.Event, 1)
		stop, err := bus.Subscribe(ctx, events.Subscription{Service: "notifier", Name: "placed", Pattern: "order.placed"},
			func(_ context.Context, e events.Event) error {
				select {
				case got <- e:
				default:
				}
				return nil
			})
		require.NoError(t, err)
		t.Cleanup(stop)
		sent := events.Event{ID: "tls-1", Type: "order.placed", Time: time.Now(), Body: json.RawMessage(`{"order":1}`)}
		require.NoError(t, bus.Publish(ctx, sent), "publishing over TLS")
		select {
		case e := <-got:
			assert.Equal(t, sent.ID, e.ID)
			assert.JSONEq(t, `{"order":1}`, string(e.Body))
		case <-ctx.Done():
			t.Fatal("the event sent over TLS never came")
		}
	})

	t.Run("another CA", func(t *testing.T) {
		t.Setenv(env.AMQPCA, otherCA)
		s, err := env.Read()
		require.NoError(t, err)
		_, err = s.ConnectBus(ctx, logger)
		require.Error(t, err, "a broker whose certificate the CA did not sign must be refused")
		_, unknown := errors.AsType[x509.UnknownAuthorityError](err)
		assert.True(t, unknown, "want an unknown authority, got: %v", err)
		assert.ErrorContains(t, err, "HIVE_AMQP_CA="+otherCA+" does not hold the CA that signed the broker's certificate")
		assert.NotContains(t, err.Error(), "make up", "a broker answered: starting one is no help")
	})

	t.Run("no CA: the system's", func(t *testing.T) {
		t.Setenv(env.AMQPCA, "")
		s, err := env.Read()
		require.NoError(t, err)
		_, err = s.ConnectBus(ctx, logger)
		assert.ErrorContains(t, err, "set HIVE_AMQP_CA to the PEM file of the CA that signed the broker's certificate")
	})
}

func TestReadAMQPCA(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600))
	for path, want := range map[string]string{
		filepath.Join(dir, "missing.pem"): "HIVE_AMQP_CA: open " + filepath.Join(dir, "missing.pem") + ": no such file or directory",
		notPEM:                            "HIVE_AMQP_CA=" + notPEM + ": no PEM certificate in the file",
	} {
		t.Setenv(env.AMQPCA, path)
		_, err := env.Read()
		assert.ErrorContains(t, err, want, "a CA that cannot be read must stop the start, not the first amqps:// dial")
	}
	ca := filepath.Join(dir, "good.pem")
	newCA(t, "hive test CA", ca)
	t.Setenv(env.AMQPCA, ca)
	s, err := env.Read()
	require.NoError(t, err)
	assert.Equal(t, ca, s.AMQPCA)
}

// newCA makes a CA certificate, writes it to path as PEM, and returns it
// with its key.
func newCA(t *testing.T, name, path string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	writePEM(t, path, "CERTIFICATE", der)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return cert, key
}

// newServerCert makes a certificate for 127.0.0.1 and localhost, signed
// by ca, and writes it and its key as PEM.
func newServerCert(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	require.NoError(t, err)
	writePEM(t, certPath, "CERTIFICATE", der)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	writePEM(t, keyPath, "PRIVATE KEY", keyDER)
}

func writePEM(t *testing.T, path, blockType string, der []byte) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der}), 0o600))
}
