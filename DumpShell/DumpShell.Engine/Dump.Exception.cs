using DumpShell.Format.Minidump;
using DumpShell.Machine;
using DumpShell.Model;
using DumpShell.Model.Names;

namespace DumpShell;

public sealed partial class Dump
{
    /// <summary>Chained records are followed this deep at most; real chains are one or two long.</summary>
    private const int MaxNestedDepth = 8;

    private DumpException? BuildStoredException(MinidumpFile file)
    {
        var e = file.Exception;
        if (e is null) return null;
        var context = CpuContext.Parse(Architecture, file.ReadLocation(e.ContextSize, e.ContextRva));
        var visited = new HashSet<ulong>();
        return Decode(e.ThreadId, e.ExceptionCode, e.ExceptionFlags, e.NestedRecordAddress, e.ExceptionAddress,
            e.Parameters.ToArray(), 0, context, visited);
    }

    private DumpException Decode(uint threadId, uint code, uint flags, ulong nested, ulong address, ulong[] parameters,
        int depth, CpuContext? context, HashSet<ulong> visited)
    {
        var (name, meaning) = ExceptionCodes.Describe(code, Platform);
        string? access = null;
        ulong? target = null;
        string? fastFail = null;
        bool windows = Platform == "Windows";
        if (windows && code is ExceptionCodes.AccessViolation or ExceptionCodes.InPageError && parameters.Length >= 2)
        {
            access = ExceptionCodes.AccessKind(parameters[0]);
            target = parameters[1];
            string verb = access switch { "Read" => "reading", "Write" => "writing", "Execute" => "executing", _ => "accessing" };
            meaning = $"{meaning.TrimEnd('.')}: {verb} 0x{target:x}.";
        }
        else if (windows && code == ExceptionCodes.StackBufferOverrun && parameters.Length >= 1)
        {
            fastFail = ExceptionCodes.FastFailName(parameters[0]) ?? $"FAST_FAIL code {parameters[0]}";
            meaning = $"{meaning} Sub-code {fastFail}.";
        }
        else if (!windows && Platform is "Linux" or "Android" or "macOS" or "iOS")
        {
            // Breakpad keeps the faulting address of a signal or Mach exception in ExceptionAddress.
            target = address;
        }

        // On Windows ExceptionAddress is where the fault happened; Breakpad's Linux and macOS writers put
        // the faulting data address there, so the code location is the context's instruction pointer.
        ulong codeAddress = !windows && context?.InstructionPointer is { } ip ? ip : address;

        DumpException? inner = null;
        if (nested != 0 && depth < MaxNestedDepth && visited.Add(nested))
            inner = ReadExceptionRecord(threadId, nested, depth + 1, visited);

        return new DumpException
        {
            DumpPath = Path,
            ThreadId = threadId,
            PointerSize = PointerSize,
            Code = code,
            CodeName = name,
            Description = meaning,
            Flags = flags,
            Address = address,
            AddressSymbol = Describe(codeAddress),
            Module = ModuleAt(codeAddress)?.Name,
            Parameters = parameters,
            AccessType = access,
            TargetAddress = target,
            FastFailCode = fastFail,
            NestedRecordAddress = nested,
            Nested = inner,
            Depth = depth,
            InstructionPointer = context?.InstructionPointer,
            StackPointer = context?.StackPointer,
            FramePointer = context?.FramePointer,
            ContextRegisters = context?.Registers,
        };
    }

    /// <summary>Reads an EXCEPTION_RECORD of the process's pointer size from memory (.exr address).</summary>
    public DumpException? ReadExceptionRecord(uint threadId, ulong address, int depth = 0, HashSet<ulong>? visited = null)
    {
        int p = PointerSize;
        // EXCEPTION_RECORD: Code, Flags, Record*, Address*, NumberParameters, [pad on 64-bit], Information[15].
        int headerSize = p == 8 ? 32 : 20;
        Span<byte> buffer = stackalloc byte[headerSize + MinidumpFile.MaxExceptionParameters * p];
        int read = Memory.Read(address, buffer);
        if (read < headerSize) return null;
        var r = new Format.ByteReader(buffer[..read]);
        uint count = Math.Min(r.U32(p == 8 ? 24 : 16), (uint)MinidumpFile.MaxExceptionParameters);
        var parameters = new ulong[count];
        for (int i = 0; i < count; i++) parameters[i] = r.Pointer(headerSize + i * p, p);
        return Decode(threadId, r.U32(0), r.U32(4), r.Pointer(8, p), r.Pointer(8 + p, p), parameters, depth, null, visited ?? [address]);
    }
}
