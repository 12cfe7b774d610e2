/*
 * The L4 X.2 ABI data types and constants, as implemented by L4Ka::Pistachio,
 * written for this project from ../shared/spec/x2-abi.md (section numbers in
 * the comments). It is the input to bindgen when no Pistachio tree is given.
 * Names follow the X.2 user API so that both header sources generate the same
 * Rust items; layouts are exactly the spec's tables. Data only: system calls
 * are hand-written Rust in l4-sys/src/arch.
 */
#ifndef L4_SYS_X2_H
#define L4_SYS_X2_H

#if defined(__x86_64__)
typedef unsigned long long L4_Word_t;
#define L4_WORD_BITS 64
#else
typedef unsigned int L4_Word_t;
#define L4_WORD_BITS 32
#endif
typedef unsigned long long L4_Word64_t;
typedef unsigned short L4_Word16_t;
typedef unsigned char L4_Word8_t;
typedef L4_Word_t L4_Bool_t;
typedef L4_Word64_t L4_Paddr_t;

/* 1.2 Thread ids: one word; the field split depends on the word size. */
typedef union {
    L4_Word_t raw;
} L4_ThreadId_t;

/* 1.3 Flexpages: base | (log2 size << 4) | rights. */
typedef union {
    L4_Word_t raw;
} L4_Fpage_t;

enum L4_Rights {
    L4_NoAccess = 0,
    L4_eXecutable = 1,
    L4_Writable = 2,
    L4_Readable = 4,
    L4_ReadeXecOnly = 5,
    L4_ReadWriteOnly = 6,
    L4_FullyAccessible = 7
};

/* 1.4 Times: 16 significant bits inside a word-sized union. */
typedef union {
    L4_Word_t raw;
} L4_Time_t;

/* 1.5 Clock: microseconds, low word first. */
typedef union {
    L4_Word64_t raw;
} L4_Clock_t;

/* 1.6 Message tag (MR0). */
typedef union {
    L4_Word_t raw;
} L4_MsgTag_t;

/* 1.7 Typed items: map and grant items are two words, string items two or more. */
typedef union {
    L4_Word_t raw[2];
} L4_MapItem_t;

typedef union {
    L4_Word_t raw[2];
} L4_GrantItem_t;

typedef union {
    L4_Word_t raw[2];
} L4_StringItem_t;

typedef union {
    L4_Word_t raw;
} L4_Acceptor_t;

/* 1.8 ErrorCode values of the non-IPC system calls. */
enum L4_ErrorCodes {
    L4_ErrOk = 0,
    L4_ErrNoPrivilege = 1,
    L4_ErrInvalidThread = 2,
    L4_ErrInvalidSpace = 3,
    L4_ErrInvalidScheduler = 4,
    L4_ErrInvalidParam = 5,
    L4_ErrUtcbArea = 6,
    L4_ErrKipArea = 7,
    L4_ErrNoMem = 8
};

/* 2.1 Kernel interface page: 72 words. */
typedef struct {
    L4_Word_t sp, ip, low, high;
} L4_KipServer_t;

typedef struct {
    L4_Word_t magic;
    L4_Word_t ApiVersion;
    L4_Word_t ApiFlags;
    L4_Word_t KernelVerPtr;
    L4_Word_t KdebugInit;
    L4_Word_t KdebugEntry;
    L4_Word_t KdebugLow;
    L4_Word_t KdebugHigh;
    L4_KipServer_t Sigma0;
    L4_KipServer_t Sigma1;
    L4_KipServer_t RootServer;
    L4_Word_t Reserved0;
    L4_Word_t MemoryInfo;
    L4_Word_t KdebugConfig[2];
    L4_Word_t MainMem[2];
    L4_Word_t ReservedMem[4];
    L4_Word_t DedicatedMem[10];
    L4_Word_t Reserved1[2];
    L4_Word_t UtcbAreaInfo;
    L4_Word_t KipAreaInfo;
    L4_Word_t Reserved2[2];
    L4_Word_t BootInfo;
    L4_Word_t ProcDescPtr;
    L4_Word_t ClockInfo;
    L4_Word_t ThreadInfo;
    L4_Word_t PageInfo;
    L4_Word_t ProcessorInfo;
    L4_Word_t SpaceControl;
    L4_Word_t ThreadControl;
    L4_Word_t ProcessorControl;
    L4_Word_t MemoryControl;
    L4_Word_t Ipc;
    L4_Word_t Lipc;
    L4_Word_t Unmap;
    L4_Word_t ExchangeRegisters;
    L4_Word_t SystemClock;
    L4_Word_t ThreadSwitch;
    L4_Word_t Schedule;
    L4_Word_t Reserved3[5];
    L4_Word_t ArchSyscall[4];
} L4_KernelInterfacePage_t;

/* 2.3 Memory descriptors: two words. */
typedef struct {
    L4_Word_t raw[2];
} L4_MemoryDesc_t;

enum L4_MemoryDescType {
    L4_UndefinedMemoryType = 0x0,
    L4_ConventionalMemoryType = 0x1,
    L4_ReservedMemoryType = 0x2,
    L4_DedicatedMemoryType = 0x3,
    L4_SharedMemoryType = 0x4,
    L4_BootLoaderSpecificMemoryType = 0xE,
    L4_ArchitectureSpecificMemoryType = 0xF
};

/* 2.2 Processor descriptor (size from ProcessorInfo). */
typedef struct {
    L4_Word_t ExternalFreq;
    L4_Word_t InternalFreq;
    L4_Word_t FreqChange;
    L4_Word_t Arch;
} L4_ProcDesc_t;

/* 7.1 BootInfo header: eight words. */
#define L4_BOOTINFO_MAGIC_VALUE 0x14B0021D
typedef struct {
    L4_Word_t magic;
    L4_Word_t version;
    L4_Word_t size;
    L4_Word_t first_entry;
    L4_Word_t num_entries;
    L4_Word_t __reserved[3];
} L4_BootInfo_t;

/* 7.1 Every record starts with type, version and offset_next. */
typedef struct {
    L4_Word_t type;
    L4_Word_t version;
    L4_Word_t offset_next;
} L4_BootRec_t;

/* 7.2 Record types. */
#define L4_BootInfo_Module 0x0001
#define L4_BootInfo_SimpleExec 0x0002
#define L4_BootInfo_EFITables 0x0101
#define L4_BootInfo_Multiboot 0x0102

typedef struct {
    L4_Word_t type;
    L4_Word_t version;
    L4_Word_t offset_next;
    L4_Word_t start;
    L4_Word_t size;
    L4_Word_t cmdline_offset;
} L4_Boot_Module_t;

typedef struct {
    L4_Word_t type;
    L4_Word_t version;
    L4_Word_t offset_next;
    L4_Word_t text_pstart;
    L4_Word_t text_vstart;
    L4_Word_t text_size;
    L4_Word_t data_pstart;
    L4_Word_t data_vstart;
    L4_Word_t data_size;
    L4_Word_t bss_pstart;
    L4_Word_t bss_vstart;
    L4_Word_t bss_size;
    L4_Word_t initial_ip;
    L4_Word_t flags;
    L4_Word_t label;
    L4_Word_t cmdline_offset;
} L4_Boot_SimpleExec_t;

typedef struct {
    L4_Word_t type;
    L4_Word_t version;
    L4_Word_t offset_next;
    L4_Word_t address;
} L4_Boot_MBI_t;

/* 4. UTCB: word offsets relative to MR0 (the local id). */
enum L4_UtcbWords {
    L4_TCR_WordSizeMask = -1,
    L4_TCR_ThreadWord0 = -4,
    L4_TCR_ThreadWord1 = -5,
    L4_TCR_VirtualActualSender = -6,
    L4_TCR_IntendedReceiver = -7,
    L4_TCR_XferTimeout = -8,
    L4_TCR_ErrorCode = -9,
    L4_TCR_PreemptFlags = -10,
    L4_TCR_ExceptionHandler = -11,
    L4_TCR_Pager = -12,
    L4_TCR_UserDefinedHandle = -13,
    L4_TCR_ProcessorNo = -14,
    L4_TCR_MyGlobalId = -15,
    L4_TCR_BR0 = -16
};

/* 1.1 Register counts. */
#define L4_NUM_MRS 64
#define L4_NUM_BRS 33

#endif
