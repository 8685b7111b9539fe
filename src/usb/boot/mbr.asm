; mbr.asm -- tsmedia's master boot record code (legacy BIOS boot of USB media)
;
; The BIOS loads sector 0 of the disk to 0000:7C00 and jumps there with
; DL = its drive number. This code
;   1. moves itself to 0000:0600, out of the way of the boot sector it loads;
;   2. looks for the active partition (status 80h) in the table at offset 446;
;   3. reads that partition's first sector (LBA from the entry, INT 13h
;      extensions, AH=42h) to 0000:7C00 and checks its 55AA signature;
;   4. jumps to 0000:7C00 with DL = drive and DS:SI = the partition entry
;      (the classic hand-over that volume boot records may rely on).
; Failures print a line (BIOS teletype) and halt with interrupts on, so
; Ctrl+Alt+Del restarts the machine.
;
; The assembled code is the first 440 bytes of the MBR: the disk signature
; (440..443), the partition table (446..509) and 55AA are written by
; tsmedia (src/usb/partition.rs), not by this file.
;
; Build: nasm -f bin -o mbr.bin mbr.asm       (440 bytes; i386 or later)

        bits 16
        cpu 386
        org 0x0600

RELOC           equ 0x0600
LOAD            equ 0x7C00
TABLE           equ RELOC + 446
RETRIES         equ 3

start:
        cli
        xor     ax, ax
        mov     ss, ax
        mov     sp, LOAD
        mov     ds, ax
        mov     es, ax
        sti
        cld
        mov     si, LOAD
        mov     di, RELOC
        mov     cx, 256
        rep     movsw
        jmp     0x0000:relocated

relocated:
        mov     [drive], dl
        ; the active partition
        mov     bp, TABLE
        mov     cx, 4
.scan:
        cmp     byte [bp], 0x80
        je      .found
        add     bp, 16
        loop    .scan
        mov     si, msg_no_active
        jmp     fail

.found:
        ; INT 13h extensions present, with the packet interface (CX bit 0)
        mov     ah, 0x41
        mov     bx, 0x55AA
        mov     dl, [drive]
        int     0x13
        jc      .no_ext
        cmp     bx, 0xAA55
        jne     .no_ext
        test    cl, 1
        jnz     .read
.no_ext:
        mov     si, msg_no_ext
        jmp     fail

.read:
        mov     eax, [bp + 8]           ; first LBA of the partition
        mov     [dap_lba], eax
        mov     di, RETRIES
.try:
        mov     si, dap
        mov     ah, 0x42
        mov     dl, [drive]
        int     0x13
        jnc     .loaded
        xor     ah, ah                  ; reset the drive, then try again
        mov     dl, [drive]
        int     0x13
        dec     di
        jnz     .try
        mov     si, msg_disk
        jmp     fail

.loaded:
        cmp     word [LOAD + 510], 0xAA55
        je      .go
        mov     si, msg_no_boot
        jmp     fail
.go:
        mov     si, bp                  ; DS:SI = the partition entry
        mov     dl, [drive]
        jmp     0x0000:LOAD

; print the NUL-terminated string at DS:SI, then halt
fail:
        lodsb
        test    al, al
        jz      .halt
        mov     ah, 0x0E
        mov     bx, 0x0007
        int     0x10
        jmp     fail
.halt:
        sti
        hlt
        jmp     .halt

; INT 13h AH=42h disk address packet: one sector to 0000:7C00
dap:            db 0x10, 0
                dw 1
                dw LOAD, 0
dap_lba:        dd 0, 0
drive:          db 0x80

msg_no_active:  db "tsmedia MBR: no active partition", 13, 10, 0
msg_no_ext:     db "tsmedia MBR: the BIOS has no INT 13h extensions", 13, 10, 0
msg_disk:       db "tsmedia MBR: disk error reading the boot sector", 13, 10, 0
msg_no_boot:    db "tsmedia MBR: the active partition has no boot sector", 13, 10, 0

%if ($ - $$) > 440
  %error "the MBR code is over 440 bytes"
%endif
        times 440 - ($ - $$) db 0
