; fat32-vbr.asm -- tsmedia's FAT32 volume boot record (legacy BIOS boot)
;
; Loads BOOTMGR the way a Windows FAT32 boot sector does: the MBR code loads
; this volume's first sector to 0000:7C00 and jumps there with DL = drive.
; This code
;   1. reads sector 2 of the volume (the second part of this code) to
;      0000:7E00 with INT 13h extensions (AH=42h, LBA = hidden sectors + 2);
;   2. reads the BPB: FAT at hidden + reserved sectors, data area after the
;      FATs, root folder at BPB_RootClus;
;   3. follows the root folder's cluster chain looking for the 8.3 name
;      BOOTMGR (not a folder, not a volume label, not a long-name entry);
;   4. follows BOOTMGR's FAT chain and loads the whole file to 2000:0000,
;      at most 64 sectors per read, advancing the segment after each read
;      (so files over 64 KiB load whole);
;   5. jumps to 2000:0000 with DL = drive.
; Failures print "BOOTMGR is missing", "BOOTMGR is damaged" (broken chain,
; empty file), "BOOTMGR is too large" (past conventional memory) or "Disk
; error", then "Press Ctrl+Alt+Del to restart", and halt with interrupts on.
;
; The assembled file is 1024 bytes:
;   [0 .. 511]     the boot sector: a jump, zeros where tsmedia writes the
;                  BPB (bytes 3..89, src/usb/fat32/disk.rs), the first part
;                  of the code from byte 90, and 55AA;
;   [512 .. 1023]  the second part, written to sector 2 (and to sector 8,
;                  after the backup boot sector at 6), ending in 55AA.
;
; Build: nasm -f bin -o fat32-vbr.bin fat32-vbr.asm      (i386 or later)

        bits 16
        cpu 386
        org 0x7C00

; BPB fields (FAT32), read in place
BPB_SPC         equ 0x7C0D      ; byte: sectors per cluster
BPB_RESERVED    equ 0x7C0E      ; word: reserved sectors
BPB_NFATS       equ 0x7C10      ; byte: number of FATs
BPB_HIDDEN      equ 0x7C1C      ; dword: LBA of the volume on its disk
BPB_FATSZ       equ 0x7C24      ; dword: sectors per FAT
BPB_ROOTCLUS    equ 0x7C2C      ; dword: first cluster of the root folder

STAGE2_SECTOR   equ 2
DIRBUF          equ 0x8000      ; one directory sector
FATBUF          equ 0x8200      ; one FAT sector
LOAD_SEG        equ 0x2000      ; BOOTMGR goes to 2000:0000
MAX_READ        equ 64          ; sectors per INT 13h read
RETRIES         equ 3

; ------------------------------------------------------- boot sector ---
start:
        jmp     short code
        nop
        times 90 - ($ - $$) db 0        ; OEM name and BPB, written by tsmedia

code:
        cli
        xor     ax, ax
        mov     ds, ax
        mov     es, ax
        mov     ss, ax
        mov     sp, 0x7C00
        sti
        cld
        jmp     0x0000:.flat            ; CS = 0 whatever the caller used
.flat:
        mov     [drive], dl
        mov     ah, 0x41
        mov     bx, 0x55AA
        int     0x13
        jc      .no_ext
        cmp     bx, 0xAA55
        jne     .no_ext
        test    cl, 1
        jnz     .ext_ok
.no_ext:
        mov     si, msg_no_ext
        jmp     fail
.ext_ok:
        mov     eax, [BPB_HIDDEN]
        add     eax, STAGE2_SECTOR
        mov     cx, 1
        mov     bx, 0x07E0              ; 07E0:0000 = 0000:7E00
        call    read
        cmp     word [0x7E00 + 510], 0xAA55
        je      stage2
        mov     si, msg_damaged
        jmp     fail

; read CX sectors from disk LBA EAX to BX:0000 (all registers kept)
read:
        pushad
        push    dword 0                 ; LBA, high half
        push    eax                     ; LBA, low half
        push    bx                      ; segment
        push    word 0                  ; offset
        push    cx                      ; sectors
        push    word 0x0010             ; packet size, reserved
        mov     si, sp
        mov     di, RETRIES
.try:
        mov     [si + 2], cx            ; a failed call may change the count
        mov     ah, 0x42
        mov     dl, [drive]
        int     0x13
        jnc     .done
        xor     ah, ah                  ; reset the drive, then try again
        mov     dl, [drive]
        int     0x13
        dec     di
        jnz     .try
        mov     si, msg_disk
        jmp     fail
.done:
        add     sp, 16
        popad
        ret

; print the message at DS:SI and the restart hint, then halt
fail:
        call    puts
        mov     si, msg_restart
        call    puts
.halt:
        sti
        hlt
        jmp     .halt

puts:
        lodsb
        test    al, al
        jz      .done
        mov     ah, 0x0E
        mov     bx, 0x0007
        int     0x10
        jmp     puts
.done:
        ret

drive:          db 0x80
msg_disk:       db "Disk error", 0
msg_no_ext:     db "No INT 13h extensions", 0
msg_damaged:    db "BOOTMGR is damaged", 0
msg_restart:    db 13, 10, "Press Ctrl+Alt+Del to restart", 13, 10, 0

%if ($ - $$) > 510
  %error "the boot sector code is over 420 bytes"
%endif
        times 510 - ($ - $$) db 0
        dw      0xAA55

; ---------------------------------------------------- sector 2 (7E00) ---
stage2:
        ; FAT at hidden + reserved; data area after all FATs
        movzx   eax, word [BPB_RESERVED]
        add     eax, [BPB_HIDDEN]
        mov     [fat_lba], eax
        movzx   cx, byte [BPB_NFATS]
        jcxz    .no_fats
.add_fat:
        add     eax, [BPB_FATSZ]
        loop    .add_fat
.no_fats:
        mov     [data_lba], eax

        ; the root folder, one sector at a time
        mov     eax, [BPB_ROOTCLUS]
.dir_cluster:
        cmp     eax, 2
        jb      damaged
        mov     [cluster], eax
        call    cluster_lba
        movzx   cx, byte [BPB_SPC]
.dir_sector:
        push    cx
        mov     cx, 1
        mov     bx, DIRBUF / 16
        call    read
        pop     cx
        mov     di, DIRBUF
.entry:
        cmp     byte [di], 0            ; end of the folder
        je      missing
        test    byte [di + 11], 0x18    ; folders, labels, long-name entries
        jnz     .next
        push    cx
        push    di
        mov     si, bootmgr_name
        mov     cx, 11
        repe    cmpsb
        pop     di
        pop     cx
        je      found
.next:
        add     di, 32
        cmp     di, DIRBUF + 512
        jb      .entry
        inc     eax
        loop    .dir_sector
        mov     eax, [cluster]
        call    next_cluster
        jc      missing                 ; end of the root folder
        jmp     .dir_cluster

found:
        mov     ax, [di + 20]           ; first cluster, high word
        shl     eax, 16
        mov     ax, [di + 26]           ; low word
        mov     [cluster], eax
        mov     ecx, [di + 28]          ; size in bytes
        test    ecx, ecx
        jz      damaged
        ; it must fit between 2000:0000 and the end of conventional memory
        int     0x12                    ; AX = KiB of conventional memory
        movzx   eax, ax
        shl     eax, 10
        sub     eax, LOAD_SEG * 16
        jbe     too_large
        cmp     ecx, eax
        ja      too_large
        add     ecx, 511
        shr     ecx, 9
        mov     [sectors_left], cx
        mov     word [dest_seg], LOAD_SEG

        mov     eax, [cluster]
.file_cluster:
        cmp     eax, 2
        jb      damaged
        mov     [cluster], eax
        call    cluster_lba
        movzx   dx, byte [BPB_SPC]      ; sectors left in this cluster
.chunk:
        mov     cx, MAX_READ
        cmp     cx, dx
        jbe     .c1
        mov     cx, dx
.c1:
        cmp     cx, [sectors_left]
        jbe     .c2
        mov     cx, [sectors_left]
.c2:
        mov     bx, [dest_seg]
        call    read
        sub     [sectors_left], cx
        jz      .loaded
        sub     dx, cx
        movzx   ecx, cx
        add     eax, ecx
        shl     cx, 5                   ; 512-byte sectors in paragraphs
        add     [dest_seg], cx
        test    dx, dx
        jnz     .chunk
        mov     eax, [cluster]
        call    next_cluster
        jc      damaged                 ; the chain ends before the file
        jmp     .file_cluster
.loaded:
        mov     dl, [drive]
        jmp     LOAD_SEG:0x0000

missing:
        mov     si, msg_missing
        jmp     fail
damaged:
        mov     si, msg_damaged
        jmp     fail
too_large:
        mov     si, msg_large
        jmp     fail

; EAX = cluster -> EAX = its first LBA on the disk
cluster_lba:
        push    ebx
        push    edx
        sub     eax, 2
        movzx   ebx, byte [BPB_SPC]
        mul     ebx
        add     eax, [data_lba]
        pop     edx
        pop     ebx
        ret

; EAX = cluster -> EAX = the next cluster of its chain; CF set at the end
; of the chain; a free or reserved entry is damage
next_cluster:
        push    bx
        push    cx
        shl     eax, 2                  ; byte offset in the FAT
        mov     bx, ax
        and     bx, 511
        shr     eax, 9
        add     eax, [fat_lba]
        cmp     eax, [fat_cached]
        je      .cached
        mov     [fat_cached], eax
        push    bx
        mov     cx, 1
        mov     bx, FATBUF / 16
        call    read
        pop     bx
.cached:
        mov     eax, [FATBUF + bx]
        and     eax, 0x0FFFFFFF
        pop     cx
        pop     bx
        cmp     eax, 0x0FFFFFF8
        jae     .end
        cmp     eax, 2
        jb      damaged
        cmp     eax, 0x0FFFFFF7         ; bad cluster
        je      damaged
        clc
        ret
.end:
        stc
        ret

bootmgr_name:   db "BOOTMGR    "
msg_missing:    db "BOOTMGR is missing", 0
msg_large:      db "BOOTMGR is too large", 0
fat_cached:     dd 0xFFFFFFFF
fat_lba:        dd 0
data_lba:       dd 0
cluster:        dd 0
sectors_left:   dw 0
dest_seg:       dw 0

%if ($ - $$) > 1022
  %error "the second sector's code is over 510 bytes"
%endif
        times 1022 - ($ - $$) db 0
        dw      0xAA55
