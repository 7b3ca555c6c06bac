using System.Buffers.Binary;
using DumpShell.Model;

namespace DumpShell.Analysis.Detectors;

/// <summary>
/// Local Buffer Overflow (User Space). Certain: 0xC0000409 with FAST_FAIL code 2 (stack cookie check) or 0 (legacy GS):
/// Critical. Suspected: the faulting IP is made of printable ASCII bytes or one repeated byte (such as 0x41414141) and
/// the stack near SP holds a run of at least 32 such bytes (or of that value repeated): Warning. Other fail-fast codes
/// never trigger it.
/// </summary>
internal sealed class LocalBufferOverflowDetector : IDetector
{
    private const int MinRun = 32;

    public string Pattern => "Local Buffer Overflow (User Space)";

    public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
    {
        var e = ExceptionFacts.Stored(dump);
        if (e is null) yield break;
        if (e.Code == Model.Names.ExceptionCodes.StackBufferOverrun && e.Parameters.Length >= 1 && e.Parameters[0] is 0 or 2)
        {
            yield return context.Create(Pattern, context.ExceptionSeverity(Severity.Critical),
                $"0xC0000409/{e.Parameters[0]} {e.FastFailCode}: stack cookie check failed at {context.Where(e.Address)} (the function returning from it overran a local buffer)",
                $"gs|{context.LocationKey(e.Address)}", e.ThreadId, e.Module, e.Address,
                recommendation: "Find the local buffer of the function that was returning (the frame below __report_gsfailure) and the write that overran it.");
            yield break;
        }

        ulong ip = e.Address;
        if (!LooksLikeData(ip, dump.PointerSize) || e.StackPointer is not { } sp) yield break;
        var run = FindRun(dump, sp, ip);
        if (run is null) yield break;
        yield return context.Create(Pattern, context.ExceptionSeverity(Severity.Warning),
            $"Suspected: {ExceptionFacts.CodeText(e)} at IP {Hex.Address(ip, dump.PointerSize)}, which looks like data (\"{Ascii(ip, dump.PointerSize)}\"), and the stack near SP holds {run.Value.Length} bytes of it from {Hex.Address(run.Value.Start, dump.PointerSize)}: a local buffer overran the return address",
            "suspected|" + (Ascii(ip, dump.PointerSize).Distinct().Count() == 1 ? "repeated-byte" : "printable"), e.ThreadId, null, ip,
            recommendation: "Find the function whose return address was overwritten (the last good frame below the garbage) and bound its copy into the local buffer; /GS catches this at the function's return.");
    }

    /// <summary>An address whose significant bytes (at least 3) are all printable ASCII, or all one value.</summary>
    private static bool LooksLikeData(ulong ip, int pointerSize)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, ip);
        int n = pointerSize;
        while (n > 0 && b[n - 1] == 0) n--;
        if (n < 3) return false;
        bool printable = true, same = true;
        for (int i = 0; i < n; i++)
        {
            printable &= b[i] is >= 0x20 and < 0x7F;
            same &= b[i] == b[0];
        }
        return printable || same;
    }

    private static string Ascii(ulong ip, int pointerSize)
    {
        var chars = new List<char>();
        for (int i = 0; i < pointerSize; i++)
        {
            byte c = (byte)(ip >> (8 * i));
            if (c == 0) break;
            chars.Add(c is >= 0x20 and < 0x7F ? (char)c : '.');
        }
        return new string(chars.ToArray());
    }

    /// <summary>
    /// A run of at least <see cref="MinRun"/> bytes within 512 bytes around SP made of printable ASCII, of one repeated
    /// byte, or of the faulting IP's value repeated as pointer-sized words.
    /// </summary>
    private static (ulong Start, int Length)? FindRun(Dump dump, ulong sp, ulong ip)
    {
        ulong from = sp >= 256 ? sp - 256 : 0;
        var bytes = new byte[512];
        int got = dump.Memory.Read(from, bytes);
        if (got == 0)
        {
            from = sp;
            got = dump.Memory.Read(from, bytes.AsSpan(0, 256));
        }
        if (got < MinRun) return null;
        var span = bytes.AsSpan(0, got);

        // Printable ASCII, or one non-zero byte repeated.
        int start = 0;
        for (int i = 1; i <= span.Length; i++)
        {
            bool continues = i < span.Length &&
                ((span[i] is >= 0x20 and < 0x7F && span[i - 1] is >= 0x20 and < 0x7F) || (span[i] != 0 && span[i] == span[i - 1]));
            if (!continues)
            {
                if (i - start >= MinRun) return (from + (ulong)start, i - start);
                start = i;
            }
        }
        // The IP's value repeated as pointer-sized words (x64: 0x0000000041414141 leaves zero bytes between the 'A's).
        int p = dump.PointerSize;
        int misalign = (int)((ulong)p - from % (ulong)p) % p;
        int runStart = -1, words = 0, bestStart = -1, bestWords = 0;
        for (int i = misalign; i + p <= span.Length; i += p)
        {
            if (ReadWord(span, i, p) != ip)
            {
                words = 0;
                continue;
            }
            if (words++ == 0) runStart = i;
            if (words > bestWords) (bestStart, bestWords) = (runStart, words);
        }
        return bestWords * p >= MinRun ? (from + (ulong)bestStart, bestWords * p) : null;
    }

    private static ulong ReadWord(ReadOnlySpan<byte> span, int at, int p) =>
        p == 8 ? BinaryPrimitives.ReadUInt64LittleEndian(span[at..]) : BinaryPrimitives.ReadUInt32LittleEndian(span[at..]);
}
