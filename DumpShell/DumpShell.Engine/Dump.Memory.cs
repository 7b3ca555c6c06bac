using System.Text;
using DumpShell.Model;

namespace DumpShell;

public sealed partial class Dump
{
    /// <summary>The unit size of a memory format, in bytes.</summary>
    public int UnitSize(MemoryFormat format) => format switch
    {
        MemoryFormat.Byte => 1,
        MemoryFormat.Word => 2,
        MemoryFormat.DWord => 4,
        MemoryFormat.QWord => 8,
        _ => PointerSize,
    };

    /// <summary>WinDbg's default count for d*: 128 bytes' worth of units.</summary>
    public int DefaultUnitCount(MemoryFormat format) => 128 / UnitSize(format);

    /// <summary>
    /// Memory from <paramref name="address"/> in rows of 16 bytes, as db/dw/dd/dq/dp print it; units not in the
    /// dump are null. Reads as it goes, so a large count streams.
    /// </summary>
    public IEnumerable<DumpMemoryRow> ReadMemoryRows(ulong address, long unitCount, MemoryFormat format)
    {
        int unit = UnitSize(format);
        int perRow = 16 / unit;
        var buffer = new byte[16];
        for (long done = 0; done < unitCount; done += perRow)
        {
            int units = (int)Math.Min(perRow, unitCount - done);
            ulong rowAddress = address + (ulong)(done * unit);
            if (rowAddress < address) yield break; // wrapped past the top of the address space
            int bytes = units * unit;
            int read = Memory.Read(rowAddress, buffer.AsSpan(0, bytes));
            var values = new ulong?[units];
            var hex = new StringBuilder();
            for (int i = 0; i < units; i++)
            {
                bool present = (i + 1) * unit <= read;
                ulong v = 0;
                for (int b = unit - 1; present && b >= 0; b--) v = (v << 8) | buffer[i * unit + b];
                values[i] = present ? v : null;
                if (i > 0) hex.Append(format == MemoryFormat.Byte && i == 8 ? '-' : ' ');
                hex.Append(present ? v.ToString("x" + unit * 2) : new string('?', unit * 2));
            }
            string? ascii = null;
            if (format == MemoryFormat.Byte)
            {
                var text = new StringBuilder(units);
                for (int i = 0; i < units; i++)
                    text.Append(i < read ? (buffer[i] is >= 0x20 and < 0x7F ? (char)buffer[i] : '.') : '?');
                ascii = text.ToString();
            }
            yield return new DumpMemoryRow
            {
                DumpPath = Path, Address = rowAddress, Format = format, PointerSize = PointerSize, Values = values, Hex = hex.ToString(), Ascii = ascii,
            };
        }
    }
}
