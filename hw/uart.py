"""ns16550a-compatible UART register front end (the subset firmware needs), on byte streams.

Registers are bytes at byte offsets (``hw.memmap.UART_REG``): a bus access touches the register of each byte lane
enabled in ``sel`` (offsets 0..3 in word 0, 4..7 in word 1); the rest of the window reads as zero and ignores
writes. There is no baud generator and no shift register here: transmitted bytes leave on the ``tx`` stream and
received bytes arrive on the ``rx`` stream, so a serial PHY (on a board) or the simulator (in tests) sits behind.

======  ==========  ==================================================================================
offset  register    behaviour
======  ==========  ==================================================================================
0       RBR / THR   read pops the RX FIFO (0 if empty); write goes to the transmit holding register
        DLL         instead of RBR/THR while LCR.DLAB (bit 7) is set; stored, no effect
1       IER         bit 0: RX data available interrupt, bit 1: THR empty interrupt (others read as 0)
        DLM         instead of IER while LCR.DLAB is set; stored, no effect
2       IIR / FCR   IIR read: 0xC1/0x01 none, 0xC4/0x04 RX data, 0xC2/0x02 THR empty (0xC0 if FIFOs on);
                    FCR write: bit 0 enables FIFOs (IIR bits 7:6), bit 1 clears RX FIFO, bit 2 clears THR
3       LCR         stored
4       MCR         stored (bits 4:0); loopback is not implemented
5       LSR         DR (bit 0): RX FIFO not empty; THRE (bit 5) and TEMT (bit 6): THR empty
6       MSR         reads as 0
7       SCR         scratch register
======  ==========  ==================================================================================

Interrupts are level-sensitive: ``irq`` is high while an enabled condition holds (RX data available, THR
empty). Writing THR while it is full drops the byte, as on real hardware; firmware waits for LSR.THRE.
"""

from amaranth.hdl import Module, Signal, Const, Mux, ResetInserter
from amaranth.lib import wiring, stream
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from .cpu.bus import BusSignature
from .interconnect import region_addr_width
from .memmap import UART, UART_REG, LSR_BIT


__all__ = ["UARTFrontEnd"]


IER_ERBFI = 1 << 0      # RX data available interrupt enable
IER_ETBEI = 1 << 1      # THR empty interrupt enable
LCR_DLAB = 1 << 7
FCR_FIFO_EN = 1 << 0
FCR_RX_CLEAR = 1 << 1
FCR_TX_CLEAR = 1 << 2
IIR_NONE = 0x01
IIR_THR_EMPTY = 0x02
IIR_RX_DATA = 0x04
IIR_FIFO_BITS = 0xC0


class UARTFrontEnd(wiring.Component):
    """The UART's registers, between the system bus and a pair of byte streams.

    Parameters
    ----------
    rx_depth : int
        Depth of the RX FIFO in bytes (at least 1).

    Members
    -------
    bus : ``In(BusSignature(addr_width=region_addr_width(memmap.UART)))``
        Never stalls; answers one cycle after acceptance with ``ack``.
    tx : ``Out(stream.Signature(8))``
        Transmitted bytes.
    rx : ``In(stream.Signature(8))``
        Received bytes; not ready while the RX FIFO is full.
    irq : ``Out(1)``
        Interrupt request (level).
    """

    def __init__(self, *, rx_depth=4):
        if not isinstance(rx_depth, int) or rx_depth < 1:
            raise ValueError(f"RX FIFO depth must be a positive integer, not {rx_depth!r}")
        self._rx_depth = rx_depth
        super().__init__({
            "bus": In(BusSignature(addr_width=region_addr_width(UART))),
            "tx":  Out(stream.Signature(8)),
            "rx":  In(stream.Signature(8)),
            "irq": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        bus = self.bus

        ier = Signal(2)
        lcr = Signal(8)
        mcr = Signal(5)
        scr = Signal(8)
        dll = Signal(8)
        dlm = Signal(8)
        fifo_en = Signal()
        thr_full = Signal()
        thr = Signal(8)

        rx_clear = Signal()
        m.submodules.rx_fifo = rx_fifo = ResetInserter(rx_clear)(SyncFIFO(width=8, depth=self._rx_depth))
        wiring.connect(m, wiring.flipped(self.rx), rx_fifo.w_stream)

        dr = rx_fifo.r_rdy
        thre = ~thr_full
        dlab = (lcr & LCR_DLAB).any()

        lsr = Signal(8)
        m.d.comb += [
            lsr[LSR_BIT["DR"]].eq(dr),
            lsr[LSR_BIT["THRE"]].eq(thre),
            lsr[LSR_BIT["TEMT"]].eq(thre),
        ]
        rx_pending = (ier & IER_ERBFI).any() & dr
        tx_pending = (ier & IER_ETBEI).any() & thre
        iir = Signal(8)
        with m.If(rx_pending):
            m.d.comb += iir.eq(IIR_RX_DATA)
        with m.Elif(tx_pending):
            m.d.comb += iir.eq(IIR_THR_EMPTY)
        with m.Else():
            m.d.comb += iir.eq(IIR_NONE)
        with m.If(fifo_en):
            m.d.comb += iir[6:8].eq(IIR_FIFO_BITS >> 6)
        m.d.comb += self.irq.eq(rx_pending | tx_pending)

        m.d.comb += [
            self.tx.valid.eq(thr_full),
            self.tx.payload.eq(thr),
        ]
        with m.If(self.tx.valid & self.tx.ready):
            m.d.sync += thr_full.eq(0)

        # Byte lane of each register: offset 0..3 in word 0, 4..7 in word 1.
        def lane(offset):
            return offset // 4, offset % 4

        rbr_value = Signal(8)
        ier_value = Signal(8)
        m.d.comb += [
            rbr_value.eq(Mux(dlab, dll, Mux(dr, rx_fifo.r_data, 0))),
            ier_value.eq(Mux(dlab, dlm, ier)),
        ]
        readback = {
            UART_REG["RBR"]: rbr_value,
            UART_REG["IER"]: ier_value,
            UART_REG["IIR"]: iir,
            UART_REG["LCR"]: lcr,
            UART_REG["MCR"]: mcr,
            UART_REG["LSR"]: lsr,
            UART_REG["MSR"]: Const(0, 8),
            UART_REG["SCR"]: scr,
        }

        accept = bus.valid  # never stalls
        m.d.sync += bus.ack.eq(accept)
        read = accept & ~bus.write
        write = accept & bus.write

        rdata = Signal(32)
        for offset, value in readback.items():
            word, byte = lane(offset)
            with m.If(bus.addr == word):
                m.d.comb += rdata[8 * byte:8 * byte + 8].eq(value)
        with m.If(read):
            m.d.sync += bus.rdata.eq(rdata)

        def selected(offset):
            word, byte = lane(offset)
            return (bus.addr == word) & bus.sel[byte]

        def wbyte(offset):
            byte = offset % 4
            return bus.wdata[8 * byte:8 * byte + 8]

        with m.If(read & selected(UART_REG["RBR"]) & ~dlab):
            m.d.comb += rx_fifo.r_en.eq(1)

        with m.If(write):
            with m.If(selected(UART_REG["THR"])):
                with m.If(dlab):
                    m.d.sync += dll.eq(wbyte(UART_REG["THR"]))
                with m.Elif(~thr_full | self.tx.ready):
                    m.d.sync += [
                        thr.eq(wbyte(UART_REG["THR"])),
                        thr_full.eq(1),
                    ]
            with m.If(selected(UART_REG["IER"])):
                with m.If(dlab):
                    m.d.sync += dlm.eq(wbyte(UART_REG["IER"]))
                with m.Else():
                    m.d.sync += ier.eq(wbyte(UART_REG["IER"]))
            with m.If(selected(UART_REG["FCR"])):
                fcr = wbyte(UART_REG["FCR"])
                m.d.sync += fifo_en.eq((fcr & FCR_FIFO_EN).any())
                m.d.comb += rx_clear.eq((fcr & FCR_RX_CLEAR).any())
                with m.If((fcr & FCR_TX_CLEAR).any()):
                    m.d.sync += thr_full.eq(0)
            with m.If(selected(UART_REG["LCR"])):
                m.d.sync += lcr.eq(wbyte(UART_REG["LCR"]))
            with m.If(selected(UART_REG["MCR"])):
                m.d.sync += mcr.eq(wbyte(UART_REG["MCR"]))
            with m.If(selected(UART_REG["SCR"])):
                m.d.sync += scr.eq(wbyte(UART_REG["SCR"]))
        return m

