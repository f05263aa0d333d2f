package wg

import "time"

// TunnelStatus is what an operator sees of one tunnel.
type TunnelStatus struct {
	Name          string    `json:"name"`
	Uplink        string    `json:"uplink"`
	Hub           string    `json:"hub,omitempty"`  // edge: the hub it goes to
	Site          string    `json:"site,omitempty"` // hub: the edge site it serves
	Impl          string    `json:"implementation"`
	ListenPort    int       `json:"listen_port"`
	FwMark        uint32    `json:"fwmark,omitempty"`
	Endpoint      string    `json:"endpoint,omitempty"` // peer's, as this side sees it
	LastHandshake time.Time `json:"last_handshake,omitzero"`
	RxBytes       int64     `json:"rx_bytes"`
	TxBytes       int64     `json:"tx_bytes"`
	RxRate        float64   `json:"rx_bytes_per_second"` // over the last few seconds
	TxRate        float64   `json:"tx_bytes_per_second"`
	Error         string    `json:"error,omitempty"`
}
