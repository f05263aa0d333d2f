package wg

import (
	"fmt"
	"strings"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// GenKey returns a new private key in wg(8)'s base64 form.
func GenKey() (string, error) {
	k, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		return "", fmt.Errorf("generate key: %w", err)
	}
	return k.String(), nil
}

// PubKey returns the public key of a base64 private key, as `wg pubkey`
// does: surrounding whitespace is ignored.
func PubKey(private string) (string, error) {
	k, err := wgtypes.ParseKey(strings.TrimSpace(private))
	if err != nil {
		return "", fmt.Errorf("read private key: %w", err)
	}
	return k.PublicKey().String(), nil
}
