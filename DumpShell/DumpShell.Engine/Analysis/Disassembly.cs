using Iced.Intel;
using DumpShell.Machine;

namespace DumpShell.Analysis;

/// <summary>One x86/x64 instruction from dump memory, as evidence text ("idiv ecx (ecx=0)").</summary>
internal static class Disassembly
{
    /// <summary>
    /// The instruction at <paramref name="address"/> in Intel syntax, with the values of the registers it reads from
    /// <paramref name="registers"/>; null when its bytes are not in the dump or do not decode.
    /// </summary>
    public static string? Describe(Dump dump, ulong address, IReadOnlyDictionary<string, ulong>? registers)
    {
        int bitness = dump.Architecture switch { CpuArchitecture.X64 => 64, CpuArchitecture.X86 => 32, _ => 0 };
        if (bitness == 0) return null;
        var bytes = new byte[15];
        int read = dump.Memory.Read(address, bytes);
        if (read == 0) return null;
        var decoder = Decoder.Create(bitness, new ByteArrayCodeReader(bytes, 0, read), address);
        decoder.Decode(out var instruction);
        if (instruction.IsInvalid || instruction.Length > read) return null;
        var output = new StringOutput();
        new IntelFormatter().Format(instruction, output);
        string text = output.ToStringAndReset();

        var used = new List<string>();
        void Use(Register r)
        {
            if (r == Register.None || r == Register.RIP || r == Register.EIP || registers is null) return;
            string name = r.ToString().ToLowerInvariant();
            string full = r.GetFullRegister().ToString().ToLowerInvariant();
            if (used.Any(u => u.StartsWith(name + "=", StringComparison.Ordinal))) return;
            if (registers.TryGetValue(full, out ulong v) || registers.TryGetValue(name, out v))
            {
                ulong mask = r.GetSize() switch { 1 => 0xFF, 2 => 0xFFFF, 4 => 0xFFFF_FFFF, _ => ulong.MaxValue };
                used.Add($"{name}={(v & mask):x}");
            }
        }
        for (int i = 0; i < instruction.OpCount; i++)
        {
            switch (instruction.GetOpKind(i))
            {
                case OpKind.Register: Use(instruction.GetOpRegister(i)); break;
                case OpKind.Memory:
                    Use(instruction.MemoryBase);
                    Use(instruction.MemoryIndex);
                    break;
            }
        }
        return used.Count > 0 ? $"{text} ({string.Join(", ", used)})" : text;
    }

    /// <summary>
    /// The call instruction that ends at <paramref name="returnAddress"/> ("call qword ptr [rax+10h]"), found by decoding
    /// back 2 to 7 bytes; null when those bytes are not in the dump or no call ends there.
    /// </summary>
    public static string? CallBefore(Dump dump, ulong returnAddress)
    {
        int bitness = dump.Architecture switch { CpuArchitecture.X64 => 64, CpuArchitecture.X86 => 32, _ => 0 };
        if (bitness == 0 || returnAddress < 8) return null;
        var bytes = new byte[7];
        if (dump.Memory.Read(returnAddress - 7, bytes) < 7) return null;
        for (int length = 2; length <= 7; length++)
        {
            var decoder = Decoder.Create(bitness, new ByteArrayCodeReader(bytes, 7 - length, length), returnAddress - (ulong)length);
            decoder.Decode(out var instruction);
            if (instruction.IsInvalid || instruction.Length != length || instruction.FlowControl is not (FlowControl.Call or FlowControl.IndirectCall)) continue;
            var output = new StringOutput();
            new IntelFormatter().Format(instruction, output);
            return output.ToStringAndReset();
        }
        return null;
    }
}
