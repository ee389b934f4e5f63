package sandbox

import (
	"bufio"
	"encoding"
	"encoding/binary"
	"fmt"
	"io"
)

// maxMessage bounds one message between a process and its evaluator: far above any render,
// and a bound on what a broken peer can make the other allocate.
const maxMessage = 512 << 20

// writeMessage writes one message (its length, then its bytes) and flushes.
func writeMessage(w *bufio.Writer, m encoding.BinaryMarshaler) error {
	data, err := m.MarshalBinary()
	if err != nil {
		return err
	}
	var n [binary.MaxVarintLen64]byte
	if _, err := w.Write(n[:binary.PutUvarint(n[:], uint64(len(data)))]); err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		return err
	}
	return w.Flush()
}

// readMessage reads one message writeMessage wrote.
func readMessage(r *bufio.Reader, m encoding.BinaryUnmarshaler) error {
	size, err := binary.ReadUvarint(r)
	if err != nil {
		return err
	}
	if size > maxMessage {
		return fmt.Errorf("a message of %d bytes is past the bound of %d", size, maxMessage)
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(r, data); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	return m.UnmarshalBinary(data)
}
