using System.Buffers.Binary;

namespace DumpShell.Tests.Synth;

/// <summary>CONTEXT.ContextFlags values.</summary>
public static class ContextFlags
{
    public const uint Amd64 = 0x00100000;
    public const uint Amd64Control = Amd64 | 0x01;
    public const uint Amd64Integer = Amd64 | 0x02;
    public const uint Amd64Segments = Amd64 | 0x04;
    public const uint Amd64FloatingPoint = Amd64 | 0x08;
    public const uint Amd64DebugRegisters = Amd64 | 0x10;
    public const uint Amd64Full = Amd64Control | Amd64Integer | Amd64FloatingPoint;          // 0x0010000B
    public const uint Amd64All = Amd64Full | Amd64Segments | Amd64DebugRegisters;           // 0x0010001F

    public const uint X86 = 0x00010000;
    public const uint X86Control = X86 | 0x01;
    public const uint X86Integer = X86 | 0x02;
    public const uint X86Segments = X86 | 0x04;
    public const uint X86FloatingPoint = X86 | 0x08;
    public const uint X86DebugRegisters = X86 | 0x10;
    public const uint X86ExtendedRegisters = X86 | 0x20;
    public const uint X86Full = X86Control | X86Integer | X86Segments;                        // 0x00010007
    public const uint X86All = X86Full | X86FloatingPoint | X86DebugRegisters | X86ExtendedRegisters; // 0x0001003F

    public const uint Arm64 = 0x00400000;
    public const uint Arm64Control = Arm64 | 0x01;
    public const uint Arm64Integer = Arm64 | 0x02;
    public const uint Arm64FloatingPoint = Arm64 | 0x04;
    public const uint Arm64Debug = Arm64 | 0x08;
    public const uint Arm64Full = Arm64Control | Arm64Integer | Arm64FloatingPoint;          // 0x00400007
}

/// <summary>Shortcuts for CONTEXT sections with the registers a stack walk needs.</summary>
public static class Contexts
{
    public static Section Amd64(ulong rip, ulong rsp, ulong rbp)
        => new Amd64Context { Rip = rip, Rsp = rsp, Rbp = rbp }.ToSection();

    public static Section X86(uint eip, uint esp, uint ebp)
        => new X86Context { Eip = eip, Esp = esp, Ebp = ebp }.ToSection();

    public static Section Arm64(ulong pc, ulong sp, ulong fp, ulong lr = 0)
        => new Arm64Context { Pc = pc, Sp = sp, Fp = fp, Lr = lr }.ToSection();
}

/// <summary>Windows x64 CONTEXT (1232 bytes).</summary>
public sealed class Amd64Context
{
    public const int Size = 1232;
    public const int OffsetContextFlags = 0x30;
    public const int OffsetMxCsr = 0x34;
    public const int OffsetSegCs = 0x38;
    public const int OffsetEFlags = 0x44;
    public const int OffsetDr0 = 0x48;
    public const int OffsetRax = 0x78;
    public const int OffsetRsp = 0x98;
    public const int OffsetRbp = 0xA0;
    public const int OffsetRip = 0xF8;
    public const int OffsetFltSave = 0x100;
    public const int OffsetXmm0 = 0x1A0; // FltSave.XmmRegisters
    public const int OffsetVectorRegister = 0x300;
    public const int OffsetVectorControl = 0x4A0;

    public ulong P1Home { get; set; }
    public ulong P2Home { get; set; }
    public ulong P3Home { get; set; }
    public ulong P4Home { get; set; }
    public ulong P5Home { get; set; }
    public ulong P6Home { get; set; }
    public uint ContextFlags { get; set; } = Synth.ContextFlags.Amd64Full;
    public uint MxCsr { get; set; } = 0x1F80;
    public ushort SegCs { get; set; } = 0x33;
    public ushort SegDs { get; set; } = 0x2B;
    public ushort SegEs { get; set; } = 0x2B;
    public ushort SegFs { get; set; } = 0x53;
    public ushort SegGs { get; set; } = 0x2B;
    public ushort SegSs { get; set; } = 0x2B;
    public uint EFlags { get; set; } = 0x202;
    public ulong Dr0 { get; set; }
    public ulong Dr1 { get; set; }
    public ulong Dr2 { get; set; }
    public ulong Dr3 { get; set; }
    public ulong Dr6 { get; set; }
    public ulong Dr7 { get; set; }
    public ulong Rax { get; set; }
    public ulong Rcx { get; set; }
    public ulong Rdx { get; set; }
    public ulong Rbx { get; set; }
    public ulong Rsp { get; set; }
    public ulong Rbp { get; set; }
    public ulong Rsi { get; set; }
    public ulong Rdi { get; set; }
    public ulong R8 { get; set; }
    public ulong R9 { get; set; }
    public ulong R10 { get; set; }
    public ulong R11 { get; set; }
    public ulong R12 { get; set; }
    public ulong R13 { get; set; }
    public ulong R14 { get; set; }
    public ulong R15 { get; set; }
    public ulong Rip { get; set; }
    /// <summary>FltSave (XMM_SAVE_AREA32) control word; 0x27F is the Windows default.</summary>
    public ushort FpuControlWord { get; set; } = 0x27F;
    /// <summary>XMM0..XMM15 in FltSave.XmmRegisters.</summary>
    public UInt128[] Xmm { get; } = new UInt128[16];
    public ulong VectorControl { get; set; }
    public ulong DebugControl { get; set; }
    public ulong LastBranchToRip { get; set; }
    public ulong LastBranchFromRip { get; set; }
    public ulong LastExceptionToRip { get; set; }
    public ulong LastExceptionFromRip { get; set; }

    public byte[] ToBytes()
    {
        var b = new byte[Size];
        var s = b.AsSpan();
        ulong[] home = [P1Home, P2Home, P3Home, P4Home, P5Home, P6Home];
        for (int i = 0; i < 6; i++) BinaryPrimitives.WriteUInt64LittleEndian(s[(i * 8)..], home[i]);
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x30..], ContextFlags);
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x34..], MxCsr);
        BinaryPrimitives.WriteUInt16LittleEndian(s[0x38..], SegCs);
        BinaryPrimitives.WriteUInt16LittleEndian(s[0x3A..], SegDs);
        BinaryPrimitives.WriteUInt16LittleEndian(s[0x3C..], SegEs);
        BinaryPrimitives.WriteUInt16LittleEndian(s[0x3E..], SegFs);
        BinaryPrimitives.WriteUInt16LittleEndian(s[0x40..], SegGs);
        BinaryPrimitives.WriteUInt16LittleEndian(s[0x42..], SegSs);
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x44..], EFlags);
        ulong[] regs =
        [
            Dr0, Dr1, Dr2, Dr3, Dr6, Dr7,                       // 0x48..0x70
            Rax, Rcx, Rdx, Rbx, Rsp, Rbp, Rsi, Rdi,             // 0x78..0xB0
            R8, R9, R10, R11, R12, R13, R14, R15, Rip,           // 0xB8..0xF8
        ];
        for (int i = 0; i < regs.Length; i++) BinaryPrimitives.WriteUInt64LittleEndian(s[(0x48 + i * 8)..], regs[i]);
        // XMM_SAVE_AREA32 at 0x100: ControlWord @+0, MxCsr @+24.
        BinaryPrimitives.WriteUInt16LittleEndian(s[OffsetFltSave..], FpuControlWord);
        BinaryPrimitives.WriteUInt32LittleEndian(s[(OffsetFltSave + 24)..], MxCsr);
        BinaryPrimitives.WriteUInt32LittleEndian(s[(OffsetFltSave + 28)..], 0xFFFF); // MxCsr_Mask
        for (int i = 0; i < 16; i++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(s[(OffsetXmm0 + i * 16)..], (ulong)Xmm[i]);
            BinaryPrimitives.WriteUInt64LittleEndian(s[(OffsetXmm0 + i * 16 + 8)..], (ulong)(Xmm[i] >> 64));
        }
        ulong[] tail = [VectorControl, DebugControl, LastBranchToRip, LastBranchFromRip, LastExceptionToRip, LastExceptionFromRip];
        for (int i = 0; i < tail.Length; i++) BinaryPrimitives.WriteUInt64LittleEndian(s[(OffsetVectorControl + i * 8)..], tail[i]);
        return b;
    }

    public Section ToSection() => new Section("context-amd64").Bytes(ToBytes());
}

/// <summary>Windows x86 CONTEXT (716 bytes, including the 512-byte ExtendedRegisters).</summary>
public sealed class X86Context
{
    public const int Size = 716;
    public const int OffsetContextFlags = 0x00;
    public const int OffsetFloatSave = 0x1C;
    public const int OffsetSegGs = 0x8C;
    public const int OffsetEdi = 0x9C;
    public const int OffsetEax = 0xB0;
    public const int OffsetEbp = 0xB4;
    public const int OffsetEip = 0xB8;
    public const int OffsetSegCs = 0xBC;
    public const int OffsetEFlags = 0xC0;
    public const int OffsetEsp = 0xC4;
    public const int OffsetSegSs = 0xC8;
    public const int OffsetExtendedRegisters = 0xCC;

    public uint ContextFlags { get; set; } = Synth.ContextFlags.X86Full;
    public uint Dr0 { get; set; }
    public uint Dr1 { get; set; }
    public uint Dr2 { get; set; }
    public uint Dr3 { get; set; }
    public uint Dr6 { get; set; }
    public uint Dr7 { get; set; }
    /// <summary>FLOATING_SAVE_AREA.ControlWord.</summary>
    public uint FpuControlWord { get; set; } = 0x27F;
    public uint SegGs { get; set; } = 0x2B;
    public uint SegFs { get; set; } = 0x53;
    public uint SegEs { get; set; } = 0x2B;
    public uint SegDs { get; set; } = 0x2B;
    public uint Edi { get; set; }
    public uint Esi { get; set; }
    public uint Ebx { get; set; }
    public uint Edx { get; set; }
    public uint Ecx { get; set; }
    public uint Eax { get; set; }
    public uint Ebp { get; set; }
    public uint Eip { get; set; }
    public uint SegCs { get; set; } = 0x23;
    public uint EFlags { get; set; } = 0x202;
    public uint Esp { get; set; }
    public uint SegSs { get; set; } = 0x2B;
    /// <summary>512-byte FXSAVE area; null writes zeros.</summary>
    public byte[]? ExtendedRegisters { get; set; }

    public byte[] ToBytes()
    {
        var b = new byte[Size];
        var s = b.AsSpan();
        uint[] head = [ContextFlags, Dr0, Dr1, Dr2, Dr3, Dr6, Dr7, FpuControlWord]; // 0x00..0x1C
        for (int i = 0; i < head.Length; i++) BinaryPrimitives.WriteUInt32LittleEndian(s[(i * 4)..], head[i]);
        uint[] regs = [SegGs, SegFs, SegEs, SegDs, Edi, Esi, Ebx, Edx, Ecx, Eax, Ebp, Eip, SegCs, EFlags, Esp, SegSs];
        for (int i = 0; i < regs.Length; i++) BinaryPrimitives.WriteUInt32LittleEndian(s[(OffsetSegGs + i * 4)..], regs[i]);
        if (ExtendedRegisters is not null)
        {
            if (ExtendedRegisters.Length > 512) throw new ArgumentException("ExtendedRegisters is 512 bytes at most.");
            ExtendedRegisters.CopyTo(s[OffsetExtendedRegisters..]);
        }
        return b;
    }

    public Section ToSection() => new Section("context-x86").Bytes(ToBytes());
}

/// <summary>Windows ARM64 CONTEXT (ARM64_NT_CONTEXT, 912 bytes).</summary>
public sealed class Arm64Context
{
    public const int Size = 912;
    public const int OffsetContextFlags = 0x00;
    public const int OffsetCpsr = 0x04;
    public const int OffsetX0 = 0x08;
    public const int OffsetFp = 0xF0;
    public const int OffsetLr = 0xF8;
    public const int OffsetSp = 0x100;
    public const int OffsetPc = 0x108;
    public const int OffsetV0 = 0x110;
    public const int OffsetFpcr = 0x310;

    public uint ContextFlags { get; set; } = Synth.ContextFlags.Arm64Full;
    public uint Cpsr { get; set; }
    /// <summary>X0..X28.</summary>
    public ulong[] X { get; } = new ulong[29];
    public ulong Fp { get; set; }
    public ulong Lr { get; set; }
    public ulong Sp { get; set; }
    public ulong Pc { get; set; }
    public UInt128[] V { get; } = new UInt128[32];
    public uint Fpcr { get; set; }
    public uint Fpsr { get; set; }

    public byte[] ToBytes()
    {
        var b = new byte[Size];
        var s = b.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(s[OffsetContextFlags..], ContextFlags);
        BinaryPrimitives.WriteUInt32LittleEndian(s[OffsetCpsr..], Cpsr);
        for (int i = 0; i < 29; i++) BinaryPrimitives.WriteUInt64LittleEndian(s[(OffsetX0 + i * 8)..], X[i]);
        BinaryPrimitives.WriteUInt64LittleEndian(s[OffsetFp..], Fp);
        BinaryPrimitives.WriteUInt64LittleEndian(s[OffsetLr..], Lr);
        BinaryPrimitives.WriteUInt64LittleEndian(s[OffsetSp..], Sp);
        BinaryPrimitives.WriteUInt64LittleEndian(s[OffsetPc..], Pc);
        for (int i = 0; i < 32; i++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(s[(OffsetV0 + i * 16)..], (ulong)V[i]);
            BinaryPrimitives.WriteUInt64LittleEndian(s[(OffsetV0 + i * 16 + 8)..], (ulong)(V[i] >> 64));
        }
        BinaryPrimitives.WriteUInt32LittleEndian(s[OffsetFpcr..], Fpcr);
        BinaryPrimitives.WriteUInt32LittleEndian(s[(OffsetFpcr + 4)..], Fpsr);
        // Bcr[8], Bvr[8], Wcr[2], Wvr[2] (debug registers) stay zero.
        return b;
    }

    public Section ToSection() => new Section("context-arm64").Bytes(ToBytes());
}
