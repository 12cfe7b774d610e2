/* The wedge guest's entry head, AT&T syntax, included by rt/head.rs.

   The afterburn wedge enters _start at its *physical* address (0x00100000)
   with guest paging off, %esi = guest-physical address of the Linux boot
   parameters ("zero page") and a stack of its own. Until paging is on, only
   physical addresses (link address - KBASE) may be used. The head:
     1. takes its own stack, saves %esi;
     2. builds page tables mapping guest-physical 0 .. NPT*4 MB both 1:1 and
        at KBASE (as Linux's head.S does; Rust removes the 1:1 half later);
     3. with `mode=memory` on the command line, writes prefill_pattern(p)
        into the first word of every page p of the e820 RAM above the image
        and below NPT*4 MB, with paging still off (the wedge's paging-off
        fault path, guest-virtual = guest-physical);
     4. turns paging on: CR3, CR0.PG, far jump (the wedge then calls
        set_virtual_offset(KBASE)), and calls wedge_guest_main(%esi).

   Every sensitive instruction goes through SENS: padded with NOPs to 20
   bytes and listed as (start, end) in .afterburn, for the wedge to rewrite. */

        .set KBASE, 0x80000000
        .set NPT, 64                    /* page tables: 64 x 4 MB = 256 MB */
        .set PREFILL_XOR, 0xA5A55A5A    /* = wedge_guest::prefill_pattern */

        .macro SENS insn:vararg
771:    \insn
772:    .fill 20 - (772b - 771b), 1, 0x90
        .pushsection .afterburn, "a"
        .long 771b, 771b + 20
        .popsection
        .endm

        .section .text.head, "ax"
        .code32
        .globl _start
_start:
        movl    $(wg_stack_top - KBASE), %esp
        movl    %esi, (wg_boot_params - KBASE)

        /* 2. NPT page tables, contiguous, each entry = frame | present | rw */
        movl    $(wg_ptabs - KBASE), %edi
        movl    $0x3, %eax
        movl    $(NPT * 1024), %ecx
1:      movl    %eax, (%edi)
        addl    $4, %edi
        addl    $0x1000, %eax
        loop    1b
        movl    $(wg_pgdir - KBASE), %edi
        xorl    %eax, %eax
        movl    $1024, %ecx
        rep stosl
        movl    $(wg_pgdir - KBASE), %edi
        movl    $(wg_ptabs - KBASE + 3), %eax
        movl    $NPT, %ecx
2:      movl    %eax, (%edi)                    /* 1:1 */
        movl    %eax, (KBASE >> 20)(%edi)       /* KBASE + */
        addl    $4, %edi
        addl    $0x1000, %eax
        loop    2b

        /* 3. look for "mode=memory" in the command line */
        movl    0x228(%esi), %ebx               /* cmd_line_ptr */
        testl   %ebx, %ebx
        jz      9f
3:      cmpb    $0, (%ebx)
        je      9f
        xorl    %ecx, %ecx
4:      movb    (wg_memory_word - KBASE)(%ecx), %al
        testb   %al, %al
        jz      5f
        cmpb    %al, (%ebx,%ecx)
        jne     8f
        incl    %ecx
        jmp     4b
8:      incl    %ebx
        jmp     3b

        /* prefill: e820 entries at 0x2d0 (20 bytes each), count at 0x1e8 */
5:      xorl    %ebp, %ebp                      /* pages written */
        movzbl  0x1e8(%esi), %ecx
        leal    0x2d0(%esi), %ebx
6:      testl   %ecx, %ecx
        jz      7f
        cmpl    $1, 16(%ebx)                    /* RAM */
        jne     65f
        cmpl    $0, 4(%ebx)                     /* base above 4 GB */
        jne     65f
        movl    (%ebx), %eax                    /* start = base */
        movl    8(%ebx), %edx                   /* end = base + size */
        addl    %eax, %edx
        jnc     61f
        movl    $0xfffff000, %edx
61:     cmpl    $(NPT << 22), %edx              /* end = min(end, NPT*4 MB) */
        jbe     62f
        movl    $(NPT << 22), %edx
62:     cmpl    $(__image_end - KBASE), %eax    /* start = max(start, image end) */
        jae     63f
        movl    $(__image_end - KBASE), %eax
63:     addl    $0xfff, %eax                    /* page align: start up, end down */
        andl    $0xfffff000, %eax
        andl    $0xfffff000, %edx
64:     cmpl    %edx, %eax
        jae     65f
        movl    %eax, %edi
        xorl    $PREFILL_XOR, %edi
        movl    %edi, (%eax)
        incl    %ebp
        addl    $0x1000, %eax
        jmp     64b
65:     addl    $20, %ebx
        decl    %ecx
        jmp     6b
7:      movl    %ebp, (wg_prefilled - KBASE)

        /* 4. paging on */
9:      movl    $(wg_pgdir - KBASE), %eax
        SENS    movl %eax, %cr3
        SENS    movl %cr0, %eax
        orl     $0x80000001, %eax
        SENS    movl %eax, %cr0
        SENS    ljmp $0x10, $10f
10:     movl    $wg_stack_top, %esp
        pushl   (wg_boot_params)
        call    wedge_guest_main
11:     jmp     11b

/* Interrupt entries for `mode=irq` (rt/modes.rs builds the IDT): IRQ0
   counts a tick; every other vector counts as unexpected. Both send a
   non-specific EOI to the virtual 8259(s) and return with iret. */
        .globl wg_irq0_entry
wg_irq0_entry:
        pushl   %eax
        pushl   %edx
        incl    wg_ticks
        movb    $0x20, %al
        movw    $0x20, %dx
        SENS    outb %al, %dx
        popl    %edx
        popl    %eax
        SENS    iret
        .globl wg_other_entry
wg_other_entry:
        pushl   %eax
        pushl   %edx
        incl    wg_unexpected
        movb    $0x20, %al
        movw    $0xa0, %dx
        SENS    outb %al, %dx
        movw    $0x20, %dx
        SENS    outb %al, %dx
        popl    %edx
        popl    %eax
        SENS    iret

/* Hooks the wedge binds through .afterburn.exports (types 0 and 1). */
        .globl wg_thread_get_handle
wg_thread_get_handle:
        xorl    %eax, %eax
        ret
        .globl wg_thread_assign_handle
wg_thread_assign_handle:
        ret

        .section .rodata.wg_head, "a"
wg_memory_word:
        .asciz  "mode=memory"

        .section .data.wg_head, "aw"
        .balign 4
        .globl wg_boot_params, wg_prefilled
wg_boot_params: .long 0                 /* guest-physical zero page */
wg_prefilled:   .long 0                 /* pages the head prefilled */
        .globl wg_ticks, wg_unexpected
wg_ticks:       .long 0                 /* IRQ0 interrupts taken */
wg_unexpected:  .long 0                 /* any other vector */
        .globl wg_uaccess_fault_record
wg_uaccess_fault_record: .long 0, 0     /* type 2 */
        .globl wg_burn_prof_counters
wg_burn_prof_counters:                  /* types 3 and 4: empty range */

        .section .bss.wg_head, "aw", @nobits
        .balign 4096
        .globl wg_pgdir, wg_ptabs
wg_pgdir:       .skip 4096
wg_ptabs:       .skip NPT * 4096
        .balign 16
        .skip 32768
        .globl wg_stack_top
wg_stack_top:

        .section .afterburn.exports, "", @progbits
        .long 0, wg_thread_get_handle
        .long 1, wg_thread_assign_handle
        .long 2, wg_uaccess_fault_record
        .long 3, wg_burn_prof_counters
        .long 4, wg_burn_prof_counters

        .text
