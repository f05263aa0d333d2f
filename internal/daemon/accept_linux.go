package daemon

import (
	"errors"

	"github.com/uplinkd/uplinkd/internal/api"
)

// acceptBreakout serves `uplinkd breakout accept SOURCE`: the source's
// held update is taken once ("": every held one) and installed.
func (d *Daemon) acceptBreakout(source string) (api.AcceptResult, error) {
	d.mu.Lock()
	bo := d.bo
	d.mu.Unlock()
	if bo == nil {
		return api.AcceptResult{}, errors.New("breakout is not running on this site")
	}
	taken, err := bo.Accept(source)
	if len(taken) == 0 && err != nil {
		return api.AcceptResult{}, err
	}
	res := api.AcceptResult{Accepted: taken}
	if err != nil {
		res.InstallError = err.Error()
	}
	return res, nil
}
