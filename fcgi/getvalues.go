package fcgi

// This file is FCGI_GET_VALUES, the management query used for health checks.

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// GetValues asks the application for the values of names (by default
// MaxConns, MaxReqs and MpxsConns) with FCGI_GET_VALUES on a new connection,
// and returns the GET_VALUES_RESULT pairs as the application sent them.
// Applications answer only the names they know: php-fpm sends
// FCGI_MPXS_CONNS alone. The connection is closed afterwards.
func (c *Client) GetValues(ctx context.Context, names ...string) (map[string]string, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if len(names) == 0 {
		names = []string{MaxConns, MaxReqs, MpxsConns}
	}
	var content []byte
	for _, n := range names {
		content = AppendPair(content, n, "")
	}
	if len(content) > MaxContentSize {
		return nil, fmt.Errorf("fcgi: GET_VALUES names exceed one record (%d bytes)", len(content))
	}
	nc, err := c.dialContext(ctx)
	if err != nil {
		if ctxErr := contextErr(ctx, err); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, fmt.Errorf("fcgi: %w", err)
	}
	defer nc.Close()
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(aLongTimeAgo) })
	defer stop()

	ioErr := func(doing string, err error) error {
		if ctxErr := contextErr(ctx, err); ctxErr != nil {
			return ctxErr
		}
		if errors.Is(err, ErrProtocol) {
			return err
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("fcgi: %s: %w", doing, err)
	}
	if err := WriteRecord(nc, TypeGetValues, 0, content); err != nil {
		return nil, ioErr("writing GET_VALUES", err)
	}
	rec, err := ReadRecord(nc, make([]byte, MaxRecordSize))
	if err != nil {
		return nil, ioErr("reading GET_VALUES_RESULT", err)
	}
	switch {
	case rec.RequestID != 0:
		return nil, fmt.Errorf("%w: %v record for request %d in answer to GET_VALUES", ErrProtocol, rec.Type, rec.RequestID)
	case rec.Type == TypeGetValuesResult:
		return ReadPairs(rec.Content, MaxContentSize)
	case rec.Type == TypeUnknownType:
		return nil, fmt.Errorf("%w: the application does not know GET_VALUES", ErrProtocol)
	default:
		return nil, fmt.Errorf("%w: %v record in answer to GET_VALUES", ErrProtocol, rec.Type)
	}
}
